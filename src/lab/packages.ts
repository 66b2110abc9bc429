/** Packages of the lab rootfs: what a minimal cloud VM has (systemd, sshd, sudo, networking tools). */
export const LAB_ROOTFS_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'sudo',
  'iproute2',
  'iptables',
  'procps',
  'ca-certificates',
  'kmod',
  'curl',
  'gnupg',
  'util-linux',
  'mount',
  'less',
];
