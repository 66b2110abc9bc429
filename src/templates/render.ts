import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

/**
 * Text templates under templates/ rendered with handlebars. HTML escaping is off (these are config files);
 * values are placed through helpers that quote for the target language, so an inventory value cannot
 * break out of its string: {{toml x}}, {{yaml x}}, {{json x}}, {{sh x}}.
 */
const TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

const hb = Handlebars.create();

/** Strict mode does not cover helper arguments: a missing value must not render as "undefined". */
function present(v: unknown, options: Handlebars.HelperOptions): unknown {
  if (v === undefined || v === null) {
    const loc = (options as unknown as { loc?: { start: { line: number } } }).loc;
    throw new Error(`template value missing${loc ? ` at line ${loc.start.line}` : ''}`);
  }
  return v;
}
// JSON strings are valid TOML basic strings and valid YAML double-quoted scalars.
hb.registerHelper(
  'toml',
  (v: unknown, o: Handlebars.HelperOptions) => new hb.SafeString(JSON.stringify(String(present(v, o)))),
);
hb.registerHelper(
  'yaml',
  (v: unknown, o: Handlebars.HelperOptions) => new hb.SafeString(JSON.stringify(String(present(v, o)))),
);
hb.registerHelper(
  'json',
  (v: unknown, o: Handlebars.HelperOptions) => new hb.SafeString(JSON.stringify(present(v, o))),
);
hb.registerHelper(
  'sh',
  (v: unknown, o: Handlebars.HelperOptions) => new hb.SafeString(`'${String(present(v, o)).replace(/'/g, `'\\''`)}'`),
);

const cache = new Map<string, Handlebars.TemplateDelegate>();

export function render(name: string, values: Record<string, unknown>): string {
  let template = cache.get(name);
  if (!template) {
    template = hb.compile(readFileSync(`${TEMPLATE_DIR}${name}.hbs`, 'utf8'), { noEscape: true, strict: true });
    cache.set(name, template);
  }
  return template(values);
}
