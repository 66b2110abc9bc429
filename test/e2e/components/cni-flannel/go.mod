// Builds the flannel CNI plugin for kprov's end-to-end tests (not shipped). The plugin lived in
// containernetworking/plugins (plugins/meta/flannel) before it moved to flannel-io/cni-plugin, whose
// release tags are not module versions the Go proxy serves.
module kprov.local/e2e-cni-flannel

go 1.14

require github.com/containernetworking/plugins v0.9.1
