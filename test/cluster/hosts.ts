// Hosts for the cluster test: each one a network namespace on a bridge of its own, with addresses
// from 198.18.0.0/24 (a range set aside for test networks). No namespace has a route anywhere else,
// so nothing the test starts can reach beyond the hosts it made.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'

const PREFIX = 'pco-'
const BRIDGE = 'pcobr0'
export const SUBNET = '198.18.0'
/** The bridge's own address: where the test itself (the client) stands. */
export const CLIENT_ADDRESS = `${SUBNET}.1`

function run(command: string, args: string[], { allowFailure = false } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.status !== 0 && !allowFailure) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr.trim()}`)
  }
  return result.stdout
}

export interface Host {
  name: string
  namespace: string
  address: string
  /** The bridge side of the host's link: taken down to cut the host off. */
  link: string
}

export interface StartOptions {
  env?: Record<string, string | undefined>
  /** Run as this user (PostgreSQL refuses to run as root). */
  user?: string
  log: string
  cwd?: string
}

/** The test's network: a bridge, the hosts on it, and every process started in them. */
export class Network {
  readonly hosts = new Map<string, Host>()
  private readonly processes = new Set<ChildProcess>()

  constructor() {
    Network.removeLeftovers()
    run('ip', ['link', 'add', BRIDGE, 'type', 'bridge'])
    run('ip', ['addr', 'add', `${CLIENT_ADDRESS}/24`, 'dev', BRIDGE])
    run('ip', ['link', 'set', BRIDGE, 'up'])
  }

  /** What an earlier run left behind when it was killed before it could tear down. */
  static removeLeftovers(): void {
    for (const line of run('ip', ['netns', 'list'], { allowFailure: true }).split('\n')) {
      const namespace = line.split(' ')[0]
      if (namespace?.startsWith(PREFIX)) Network.removeNamespace(namespace)
    }
    // A link outlives its namespace while a process that was in it is still exiting.
    for (const line of run('ip', ['-o', 'link', 'show'], { allowFailure: true }).split('\n')) {
      const link = /^\d+: ([^:@]+)/.exec(line)?.[1]
      if (link?.startsWith(PREFIX)) run('ip', ['link', 'del', link], { allowFailure: true })
    }
    run('ip', ['link', 'del', BRIDGE], { allowFailure: true })
  }

  private static removeNamespace(namespace: string): void {
    for (const pid of run('ip', ['netns', 'pids', namespace], { allowFailure: true }).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    run('ip', ['netns', 'del', namespace], { allowFailure: true })
  }

  addHost(name: string, octet: number): Host {
    const host: Host = { name, namespace: `${PREFIX}${name}`, address: `${SUBNET}.${octet}`, link: `${PREFIX}${name}` }
    run('ip', ['netns', 'add', host.namespace])
    run('ip', ['link', 'add', host.link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace])
    run('ip', ['link', 'set', host.link, 'master', BRIDGE, 'up'])
    run('ip', ['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0'])
    run('ip', ['-n', host.namespace, 'link', 'set', 'eth0', 'up'])
    run('ip', ['-n', host.namespace, 'link', 'set', 'lo', 'up'])
    this.hosts.set(name, host)
    return host
  }

  host(name: string): Host {
    const host = this.hosts.get(name)
    if (!host) throw new Error(`no host ${name}`)
    return host
  }

  /** Cuts a host off the network, as a pulled cable would; `heal` plugs it back in. */
  cut(name: string): void {
    run('ip', ['link', 'set', this.host(name).link, 'down'])
  }

  heal(name: string): void {
    run('ip', ['link', 'set', this.host(name).link, 'up'])
  }

  /** Starts `command` inside the host's namespace, its output appended to `log`. */
  start(name: string, command: string, args: string[], { env = {}, user, log, cwd }: StartOptions): ChildProcess {
    const output = openSync(log, 'a')
    // Files private to their owner, as PostgreSQL insists for its data directory.
    const inner = ['runuser', '-u', user ?? 'root', '--', 'sh', '-c', 'umask 077 && exec "$0" "$@"', command, ...args]
    const child = spawn('ip', ['netns', 'exec', this.host(name).namespace, ...inner], {
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env },
      stdio: ['ignore', output, output],
      detached: true,
      cwd,
    })
    this.processes.add(child)
    child.once('exit', () => this.processes.delete(child))
    return child
  }

  /** The ids of the processes running in a host's namespace whose command is `comm`. */
  pidsOf(name: string, comm: string): number[] {
    return run('ip', ['netns', 'pids', this.host(name).namespace], { allowFailure: true })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm
        } catch {
          return false
        }
      })
  }

  /** SIGKILLs every process of a host whose command is `comm`; returns how many there were. */
  killAll(name: string, comm: string): number {
    const pids = this.pidsOf(name, comm)
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Exited meanwhile.
      }
    }
    return pids.length
  }

  /** Kills everything, removes the hosts and the bridge. Safe to call more than once. */
  tearDown(): void {
    for (const child of this.processes) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Gone already.
      }
    }
    for (const host of this.hosts.values()) {
      Network.removeNamespace(host.namespace)
      run('ip', ['link', 'del', host.link], { allowFailure: true })
    }
    this.hosts.clear()
    run('ip', ['link', 'del', BRIDGE], { allowFailure: true })
  }
}

/** Whether this machine can build the test network: root, iproute2, and namespaces. */
export function networkProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'the cluster test makes network namespaces, which needs root'
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (the ip command) is missing'
  return undefined
}

