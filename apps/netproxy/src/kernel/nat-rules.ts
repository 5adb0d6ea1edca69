import { mustRun, runCommand } from './run-command';

/** What the NAT and filter rules are made from: every bridge network and every published port. */
export interface NatState {
  networks: { bridge: string; subnet: string; internal: boolean; icc: boolean; masquerade: boolean }[];
  ports: { hostIp: string; hostPort: number; protocol: 'tcp' | 'udp'; containerIp: string; containerPort: number; bridge: string }[];
}

/** The nftables table that holds all of one suite's rules, named after its default bridge. */
export function tableName(defaultBridge: string): string {
  return `berth_${defaultBridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/**
 * The whole table as one nft script that replaces the previous one atomically: rules a crash
 * left behind disappear and missing ones come back in the same transaction.
 */
export function renderRuleset(table: string, s: NatState): string {
  const q = (n: string) => JSON.stringify(n);
  const post: string[] = [];
  const ports: string[] = [];
  const forward: string[] = [];
  for (const n of s.networks) {
    if (n.masquerade && !n.internal) post.push(`ip saddr ${n.subnet} oifname != ${q(n.bridge)} masquerade`);
    // Traffic to a published port from the host's loopback leaves with a loopback source, which
    // the container could not answer.
    post.push(`oifname ${q(n.bridge)} ip saddr 127.0.0.0/8 masquerade`);
    // Hairpin: a container reaching a published port through a host address is sent back into
    // its own bridge; without the masquerade the answer would bypass the host's NAT.
    post.push(`oifname ${q(n.bridge)} ip saddr ${n.subnet} ct status dnat masquerade`);
    if (n.internal) {
      forward.push(`iifname ${q(n.bridge)} oifname != ${q(n.bridge)} drop`);
      forward.push(`oifname ${q(n.bridge)} iifname != ${q(n.bridge)} drop`);
    }
    // Frames between ports of one bridge reach this hook only through br_netfilter
    // (bridge-nf-call-iptables); nft's bridge family would not need it, but meta ibrname is
    // missing from some kernels.
    if (!n.icc) forward.push(`iifname ${q(n.bridge)} oifname ${q(n.bridge)} drop`);
    // Networks are isolated from one another, as Docker's DOCKER-ISOLATION chains do.
    const others = s.networks.filter((o) => o.bridge !== n.bridge).map((o) => q(o.bridge));
    if (others.length) forward.push(`iifname ${q(n.bridge)} oifname { ${others.join(', ')} } drop`);
  }
  for (const p of s.ports) {
    const dst = p.hostIp && p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : '';
    ports.push(`${dst}${p.protocol} dport ${p.hostPort} dnat to ${p.containerIp}:${p.containerPort}`);
  }
  return [
    `table ip ${table} {}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    '  chain ports {',
    ...ports.map((r) => `    ${r}`),
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...post.map((r) => `    ${r}`),
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    ...forward.map((r) => `    ${r}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Finds the packet filter to program; Berth speaks nftables (iptables-nft shares its kernel tables). */
export async function detectFirewall(): Promise<'nftables' | 'none'> {
  try {
    return (await runCommand('nft', ['list', 'tables'])).code === 0 ? 'nftables' : 'none';
  } catch {
    return 'none';
  }
}

export async function applyRuleset(table: string, s: NatState): Promise<void> {
  await mustRun('nft', ['-f', '-'], renderRuleset(table, s));
}

export async function deleteRuleset(table: string): Promise<void> {
  await runCommand('nft', ['delete', 'table', 'ip', table]);
}

/**
 * Host ports some DNAT rule already forwards, in any table (another Berth suite, a Docker engine):
 * such a port holds no socket, so only the rules tell it is taken. Keys are "tcp/8080".
 */
export async function dnatPortsInUse(): Promise<Set<string>> {
  const r = await runCommand('nft', ['list', 'ruleset']);
  const out = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    if (!line.includes('dnat')) continue;
    const m = /\b(tcp|udp) dport (\d+)\b/.exec(line);
    if (m) out.add(`${m[1]}/${m[2]}`);
  }
  return out;
}
