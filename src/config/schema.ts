import { z } from 'zod';
import { AlertRoutesSchema } from '../alerts/router.js';

/** Keys whose values are secrets: loaded from env or `<key>File`, redacted when printed. */
export const SECRET_KEYS = ['token', 'password', 'accessToken', 'appPassword', 'secret'] as const;

const secret = z.string().min(1, 'must not be empty');

const nodeName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, 'use lowercase letters, digits and dashes');
/** An absolute path on a node, without quotes, newlines or other control characters. */
const backupPath = z
  .string()
  .regex(/^\/[^'"`\\\p{Cc}]*$/u, 'an absolute path without quotes or control characters');

/** Variables the bot sets itself: how Ansible connects (host key pinning!), and K3s joining. */
const RESERVED_ANSIBLE_VARS = new Set(['chatops_os', 'k3s_node_name', 'k3s_url', 'k3s_token']);

/** Ansible variable names (also what the playbooks' `-e` files accept). */
const ansibleVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an Ansible variable name like k3s_agent_args')
  .refine((name) => !name.startsWith('ansible_') && !RESERVED_ANSIBLE_VARS.has(name), {
    message:
      "set by the bot itself: ansible_* would change how Ansible connects (e.g. the pinned host keys); k3s_url and k3s_token come from nodeOps.k3s, k3s_node_name from the node's k3sName",
  });
/** Variables for the bot's playbooks; values are passed literally (never templated). */
const ansibleVars = z.record(ansibleVarName, z.string());

export const NodeSchema = z.strictObject({
  name: nodeName,
  host: z.string().min(1, 'required: the address SSH connects to'),
  port: z.number().int().min(1).max(65535).default(22),
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name')
    .default('pi'),
  os: z.enum(['nixos', 'raspios']),
  roles: z.array(z.enum(['control-plane', 'worker', 'support', 'bot-host'])).default([]),
  /** The Kubernetes node name, when the node is in the K3s cluster. */
  k3sName: z.string().optional(),
  groups: z.array(z.string()).default([]),
  /** NixOS flake host for `nixos-rebuild --flake <flake>#<host>`; defaults to `name`. */
  nixosHost: z.string().optional(),
  description: z.string().optional(),
  /** Variables for this node's playbook runs (/node provision, /node update), e.g. k3s_agent_args. */
  ansibleVars: ansibleVars.optional(),
});
export type NodeConfig = z.infer<typeof NodeSchema>;

const member = z
  .string()
  .regex(
    /^(console|discord|matrix):.+$/,
    'members look like console:*, discord:<user or role id>, matrix:@user:server',
  );

export const RoleSchema = z.strictObject({
  members: z.array(member).default([]),
  /** Permission patterns: `*`, `node.*`, `argo.sync`, `task.*`. */
  allow: z.array(z.string().regex(/^(\*|[a-z-]+(\.(\*|[a-z-]+))?)$/, 'like node.* or argo.sync')),
});

export const ConfigSchema = z
  .strictObject({
    state: z.strictObject({ dir: z.string().default('./.chatops') }).prefault({}),
    log: z
      .strictObject({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
      })
      .prefault({}),
    http: z
      .strictObject({
        enabled: z.boolean().default(true),
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9095),
      })
      .prefault({}),
    chat: z
      .strictObject({
        console: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** Overrides the OS user name as the console user's id. */
            user: z.string().optional(),
          })
          .prefault({}),
        discord: z
          .strictObject({
            token: secret.optional(),
            applicationId: z.string().regex(/^\d+$/, 'a Discord application id (digits)'),
            guildIds: z.array(z.string().regex(/^\d+$/)).min(1),
            channels: z.array(z.string().regex(/^\d+$/)).default([]),
            registerOnStart: z.boolean().default(false),
            /** REST API base (default Discord's); for proxies and tests. */
            apiUrl: z.url().optional(),
          })
          .optional(),
        matrix: z
          .strictObject({
            homeserverUrl: z.url(),
            accessToken: secret.optional(),
            rooms: z.array(z.string()).default([]),
            prefix: z.string().min(1).max(3).default('!'),
            encryption: z.boolean().default(false),
          })
          .optional(),
      })
      .prefault({}),
    inventory: z
      .strictObject({ nodes: z.array(NodeSchema).default([]) })
      .prefault({})
      .superRefine((inv, ctx) => {
        const seen = new Set<string>();
        inv.nodes.forEach((n, i) => {
          if (seen.has(n.name))
            ctx.addIssue({
              code: 'custom',
              path: ['nodes', i, 'name'],
              message: `duplicate node name ${n.name}`,
            });
          seen.add(n.name);
        });
      }),
    access: z
      .strictObject({
        /** `open`: read-only commands are allowed to everyone; `roles`: they need a role too. */
        readOnly: z.enum(['open', 'roles']).default('open'),
        roles: z.record(z.string(), RoleSchema).default({}),
      })
      .prefault({}),
    confirm: z
      .strictObject({ timeoutSeconds: z.number().int().min(5).max(900).default(60) })
      .prefault({}),
    /** Permission patterns that run as dry runs unless `dry_run:false` is given. */
    dryRun: z.strictObject({ commands: z.array(z.string()).default([]) }).prefault({}),
    alerts: AlertRoutesSchema.extend({
      /** Receive Alertmanager webhooks at POST /hooks/alertmanager and keep alert threads. */
      enabled: z.boolean().default(false),
      webhook: z
        .strictObject({
          /** Bearer token Alertmanager sends (http_config.authorization); env CHATOPS_ALERT_TOKEN. */
          token: secret.optional(),
          /** Or basic auth (http_config.basic_auth): both username and password. */
          username: z.string().min(1, 'must not be empty').optional(),
          password: secret.optional(),
          maxBodyBytes: z
            .number()
            .int()
            .min(1024)
            .default(1024 * 1024),
        })
        .prefault({}),
      alertmanager: z
        .strictObject({
          /** Alertmanager's own URL, for silences and /alert list. */
          url: z.url().optional(),
          token: secret.optional(),
          timeoutMs: z.number().int().min(100).default(5000),
        })
        .prefault({}),
      /** Graphs on alert messages: the rule's expression queried over `range` from Prometheus. */
      prometheus: z
        .strictObject({
          /** Prometheus' URL (`/api/v1/query_range`); without it, alerts are posted without graphs. */
          url: z.url().optional(),
          /** How far back a graph reaches: 30m, 1h, 6h, 1d. */
          range: z
            .string()
            .regex(/^(\d+[smhdw])+$/, 'a duration like 30m, 1h or 6h')
            .default('1h'),
          /** Query resolution (15s, 1m); default about 240 points over the range. */
          step: z
            .string()
            .regex(/^(\d+[smhdw])+$/, 'a duration like 15s or 1m')
            .optional(),
          /** Query and drawing together; a root message waits at most this long for its graph. */
          timeoutMs: z.number().int().min(100).max(30_000).default(2000),
        })
        .prefault({}),
      /** More new groups than this at once for one destination are posted as one roll-up. */
      rollupThreshold: z.number().int().min(1).default(10),
      /**
       * Notifications stored but not applied yet; above this the webhook answers 503 with
       * Retry-After and Alertmanager sends again later (nothing is lost, the disk stays bounded).
       */
      maxBacklog: z.number().int().min(1).default(2000),
    }).prefault({}),
    /** SSH to the nodes. Without it, node actions can only show their plans. */
    ssh: z
      .strictObject({
        privateKeyFile: z.string().min(1),
        /** Pinned host keys (OpenSSH known_hosts format); a mismatch refuses the connection. */
        knownHostsFile: z.string().min(1),
        connectTimeoutMs: z.number().int().min(500).default(10_000),
        commandTimeoutMs: z.number().int().min(1000).default(60_000),
      })
      .optional(),
    /** The Kubernetes API (K3s). Without it, node actions skip cordon/drain/Ready. */
    kube: z
      .strictObject({
        kubeconfig: z.string().optional(),
        context: z.string().optional(),
        inCluster: z.boolean().default(false),
        /** Where the service account's token, ca.crt and namespace are: `<root>/var/run/secrets/…`. */
        inClusterRoot: z.string().optional(),
      })
      .optional(),
    /**
     * Where the bot itself runs, from the downward API (env POD_NAME, POD_NAMESPACE, NODE_NAME):
     * a drain of its own node leaves its pod for last, and that node is its bot host.
     */
    self: z
      .strictObject({
        pod: z.string().min(1).optional(),
        namespace: z.string().min(1).optional(),
        node: z.string().min(1).optional(),
      })
      .prefault({}),
    /**
     * Longhorn, read through the Kubernetes API (needs `kube`; skipped when its CRDs are not
     * installed): node operations refuse to take a volume's last healthy replica down and wait
     * for rebuilds; /storage shows the volumes.
     */
    longhorn: z
      .strictObject({
        /** Where Longhorn's volumes, replicas, engines, nodes, settings and backups are. */
        namespace: z.string().min(1).default('longhorn-system'),
        /** How long a reboot (or a rolling update between nodes) waits for volumes to be healthy again. */
        rebuildTimeoutSeconds: z.number().int().min(5).default(1800),
        /** A volume whose latest backup is older than this is flagged stale by /storage. */
        backupStaleHours: z.number().positive().default(26),
      })
      .prefault({}),
    /** Argo CD, through the Kubernetes API (needs `kube`). */
    argo: z
      .strictObject({
        /** Where the Application resources are. */
        namespace: z.string().min(1).default('argocd'),
        /** How long /argo sync and /argo rollback follow an operation before giving up. */
        syncTimeoutSeconds: z.number().int().min(5).default(600),
      })
      .prefault({}),
    /** Pi-hole v6 instances (pi1–pi3): /pihole acts on all of them and reports per instance. */
    pihole: z
      .strictObject({
        instances: z
          .array(
            z.strictObject({
              name: nodeName,
              /** The web server, e.g. http://10.0.0.11 (the API is under /api). */
              url: z.url(),
              /** The app password (or passwordFile); leave it out for a Pi-hole without one. */
              password: secret.optional(),
            }),
          )
          .min(1),
        /** Per request. */
        timeoutMs: z.number().int().min(100).default(5000),
      })
      .optional(),
    /** restic backups on the nodes, over SSH: /backup status, run, snapshots. */
    backup: z
      .strictObject({
        /** Which inventory nodes run backups. */
        nodes: z.array(nodeName).min(1),
        /** How /backup run starts one: a systemd unit, or `restic backup --json <paths>`. */
        runWith: z.enum(['unit', 'command']).default('unit'),
        unit: z
          .string()
          .regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'a systemd unit name like restic-backup.service')
          .default('restic-backup.service'),
        /** What `restic backup` saves (runWith: command). */
        paths: z.array(backupPath).default([]),
        /** Kept on the node: exports RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE (never through chat). */
        envFile: backupPath.default('/etc/restic/env'),
        /** A node whose latest snapshot is older than this is flagged stale. */
        staleHours: z.number().positive().default(26),
        /** Per restic call of /backup status and snapshots. */
        timeoutSeconds: z.number().int().min(1).default(60),
        /** How long /backup run may take per node. */
        runTimeoutSeconds: z
          .number()
          .int()
          .min(10)
          .default(6 * 3600),
      })
      .refine((b) => b.runWith !== 'command' || b.paths.length > 0, {
        message: 'backup.paths is required when backup.runWith is command',
        path: ['paths'],
      })
      .optional(),
    nodeOps: z
      .strictObject({
        drainTimeoutSeconds: z.number().int().min(5).default(300),
        /** How long a node may take to go down and come back over SSH. */
        rebootTimeoutSeconds: z.number().int().min(5).default(600),
        readyTimeoutSeconds: z.number().int().min(5).default(600),
        /** Per-node timeout of /node status. */
        statusTimeoutSeconds: z.number().int().min(1).default(10),
        /** Flake for nixos-rebuild, e.g. github:me/homelab or /etc/nixos. */
        nixosFlake: z.string().default('/etc/nixos'),
        /** What provision-pi.yml joins the Pis to: the K3s server URL and its node token (secret). */
        k3s: z.strictObject({ url: z.url().optional(), token: secret.optional() }).prefault({}),
        /** For every run of the bot's playbooks. */
        ansible: z
          .strictObject({
            /** Variables for all nodes (a node's `ansibleVars` win), e.g. k3s_version. */
            vars: ansibleVars.default({}),
            /** Tags to skip, e.g. [swap] to keep a Pi's swap. */
            skipTags: z
              .array(
                z
                  .string()
                  .regex(/^[A-Za-z0-9_.-]+$/, 'a tag name like swap')
                  .refine((t) => t !== 'always', {
                    message: 'the always tag carries the reboot check; it cannot be skipped',
                  }),
              )
              .default([]),
            /** Whole run of one playbook on one node. */
            timeoutSeconds: z.number().int().min(10).default(1800),
            /**
             * Your own copies of provision-pi.yml and update.yml (same names, same REBOOT_REQUIRED
             * marker); default: the bot's playbooks/.
             */
            playbooksDir: z.string().min(1).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    tasks: z
      .strictObject({
        /** Remote URL or path. Default: a bare repo `<state dir>/lab.git`, seeded on first start. */
        repo: z.string().optional(),
        branch: z.string().default('main'),
        path: z.string().default('tasks'),
        author: z
          .strictObject({
            name: z.string().default('homelab-chatops'),
            email: z.string().default('chatops@homelab.local'),
          })
          .prefault({}),
      })
      .prefault({}),
    /**
     * Set by the built-in demo only: the lab above is described, never contacted. Commands that
     * would read it say what they would ask; commands that change it show their plans.
     */
    demo: z
      .strictObject({
        /** The Argo CD applications the demo lab runs (a real lab's come from its cluster). */
        argoApps: z.array(z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/)).min(1),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    // A power level is per room: counted in rooms the lab did not choose, anyone who can make a
    // room (where they are admin) and invite the bot would get the role.
    if ((config.chat.matrix?.rooms ?? []).length === 0) {
      for (const [name, role] of Object.entries(config.access.roles)) {
        role.members.forEach((m, i) => {
          if (m.startsWith('matrix:powerlevel>='))
            ctx.addIssue({
              code: 'custom',
              path: ['access', 'roles', name, 'members', i],
              message:
                'power-level members need chat.matrix.rooms: a power level only means something in rooms you chose (anyone can make a room where they are admin and invite the bot). List the rooms in chat.matrix.rooms, or name the users (matrix:@user:server).',
            });
        });
      }
    }
    const { username, password } = config.alerts.webhook;
    if (username !== undefined && password === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'webhook', 'password'],
        message:
          'required with alerts.webhook.username: basic auth without a password would let anyone who knows the user name post alerts. Set password (or passwordFile), or use token instead.',
      });
    if (password !== undefined && username === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'webhook', 'username'],
        message: 'required with alerts.webhook.password (basic auth needs both).',
      });
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
