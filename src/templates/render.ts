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
// JSON strings are valid TOML basic strings and valid YAML double-quoted scalars.
hb.registerHelper('toml', (v: unknown) => new hb.SafeString(JSON.stringify(String(v))));
hb.registerHelper('yaml', (v: unknown) => new hb.SafeString(JSON.stringify(String(v))));
hb.registerHelper('json', (v: unknown) => new hb.SafeString(JSON.stringify(v)));
hb.registerHelper('sh', (v: unknown) => new hb.SafeString(`'${String(v).replace(/'/g, `'\\''`)}'`));

const cache = new Map<string, Handlebars.TemplateDelegate>();

export function render(name: string, values: Record<string, unknown>): string {
  let template = cache.get(name);
  if (!template) {
    template = hb.compile(readFileSync(`${TEMPLATE_DIR}${name}.hbs`, 'utf8'), { noEscape: true, strict: true });
    cache.set(name, template);
  }
  return template(values);
}
