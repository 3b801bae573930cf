// The benches' dataset: N Protection Groups of M members each, on both sites of a lab, with their array
// groups and member volumes on the simulated arrays.
//
// One template group is made the product's way, through the gateway (createProtectionGroup,
// createReplicationPolicy, addMember of a VM booted on boston), so every row the product writes for a
// group exists. Its rows are read from both sites' databases and from the arrays' database, then the
// lab is stopped and the rows are copied in bulk SQL (one transaction per file), with fresh ids and
// names, group by group and member by member. Array API tokens of the policies are encrypted again
// for each copy with the site's key (a stored secret is bound to its group's id). The template group is
// removed afterwards, so the dataset holds exactly the groups `bench-00000` ... in the demo project
// (the tenant's tokens see them on both sites, through the lab's tenant mapping).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptSecret, parseSecretKey } from '@protector/platform/db';
import Database from 'better-sqlite3';
import { bootVm } from '../../test/dist/lab.js';

const TEMPLATE = 'benchtpl';
/** The fa-sim lab's array API token (test/src/lab.ts); the mock driver ignores tokens. */
const FA_SIM_TOKEN = 'T-lab-fa-sim';

export const groupName = (i) => `bench-${String(i).padStart(5, '0')}`;

const SITE_TABLES = {
  group: 'protection_group_replica',
  member: 'member',
  volume: 'member_volume',
  policy: 'replication_policy',
  mapping: 'resource_mapping',
};

/**
 * Makes the template group through the gateway (the lab must run). Its replication interval is the
 * lab's (30 s by default), as the demo group's.
 */
export async function createTemplate(lab) {
  const tokens = await lab.tenantTokens();
  const gql = async (query, variables = {}) => {
    const res = await lab.gql(query, variables, tokens);
    if (res.errors?.length) throw new Error(`dataset template: ${res.errors[0].message}`);
    return res.data;
  };
  const token = lab.arrayUrls ? FA_SIM_TOKEN : 'T-bench';
  await gql(`mutation { createProtectionGroup(input: { name: "${TEMPLATE}", replicationType: ASYNC,
    primarySite: "boston", secondarySite: "seattle", volumeType: "replicated-ssd" }) { id } }`);
  await gql(
    `mutation($primary: String!, $secondary: String!, $token: String!, $interval: Int!) {
      createReplicationPolicy(input: { protectionGroup: "${TEMPLATE}", policy: { primaryArrayUrl: $primary,
        primaryArrayToken: $token, secondaryArrayUrl: $secondary, secondaryArrayToken: $token,
        replicationIntervalSeconds: $interval, rpoMinutes: 5 } }) { id } }`,
    {
      primary: lab.arrayUrls?.[lab.arrays.boston] ?? 'https://mock-array-a.lab',
      secondary: lab.arrayUrls?.[lab.arrays.seattle] ?? 'https://mock-array-b.lab',
      token,
      interval: lab.replicationIntervalSeconds,
    },
  );
  await bootVm(lab.sites.boston, tokens.boston, `${TEMPLATE}-vm0`);
  await gql(
    `mutation { addMember(input: { protectionGroup: "${TEMPLATE}", server: "${TEMPLATE}-vm0" }) { id } }`,
  );
  return { token };
}

const siteDbFile = (dir, site) => join(dir, site, 'protector-site.sqlite');
const templateFile = (dir) => join(dir, 'bench-template.json');

/**
 * Reads the template's rows from the stopped lab's files, keeps them in `<lab dir>/bench-template.json`
 * and deletes the template group from the sites and the arrays (its VM stays in boston's cloud).
 */
export function captureTemplate(lab, { token }) {
  const out = { token, sites: {}, arrays: {} };
  let ids = null;
  for (const site of Object.keys(lab.sites)) {
    const db = new Database(siteDbFile(lab.dir, site));
    try {
      const group = db.prepare(`SELECT * FROM ${SITE_TABLES.group} WHERE name = ?`).get(TEMPLATE);
      if (!group) throw new Error(`dataset: template group ${TEMPLATE} not found on ${site}`);
      const members = db
        .prepare(`SELECT * FROM ${SITE_TABLES.member} WHERE protection_group_id = ?`)
        .all(group.id);
      if (members.length !== 1)
        throw new Error(`dataset: template has ${members.length} members on ${site}, want 1`);
      const volumes = db
        .prepare(`SELECT * FROM ${SITE_TABLES.volume} WHERE member_id = ?`)
        .all(members[0].id);
      const policy = db
        .prepare(`SELECT * FROM ${SITE_TABLES.policy} WHERE protection_group_id = ?`)
        .get(group.id);
      const mappings = db
        .prepare(`SELECT * FROM ${SITE_TABLES.mapping} WHERE protection_group_id = ?`)
        .all(group.id);
      out.sites[site] = { group, member: members[0], volumes, policy, mappings };
      const placements = JSON.parse(members[0].site_server_ids);
      ids = {
        groupId: group.id,
        storageGroup: group.storage_group_name,
        memberId: members[0].id,
        memberName: members[0].name,
        serverId: placements.boston,
        volumeIds: volumes.map((v) => v.id),
        cinderVolumeIds: volumes.map((v) => JSON.parse(v.site_volume_ids).boston),
        arrayVolumes: volumes.map((v) => v.array_volume_name),
      };
      db.pragma('foreign_keys = ON');
      db.prepare(`DELETE FROM ${SITE_TABLES.group} WHERE id = ?`).run(group.id);
    } finally {
      db.close();
    }
  }
  out.ids = ids;
  const adb = new Database(lab.arrayStoreFile);
  try {
    const inList = ids.arrayVolumes.map(() => '?').join(',');
    out.arrays = {
      volumes: adb.prepare(`SELECT * FROM volumes WHERE name IN (${inList})`).all(...ids.arrayVolumes),
      pgroups: adb
        .prepare(`SELECT * FROM pgroups WHERE name = ? OR name LIKE ?`)
        .all(ids.storageGroup, `%:${ids.storageGroup}`),
      pgroupVolumes: adb.prepare('SELECT * FROM pgroup_volumes WHERE pgroup = ?').all(ids.storageGroup),
      pgroupTargets: adb.prepare('SELECT * FROM pgroup_targets WHERE pgroup = ?').all(ids.storageGroup),
    };
    for (const t of ['pgroup_volumes', 'pgroup_targets'])
      adb.prepare(`DELETE FROM ${t} WHERE pgroup = ?`).run(ids.storageGroup);
    adb
      .prepare('DELETE FROM pgroup_snaps WHERE pgroup = ? OR pgroup LIKE ?')
      .run(ids.storageGroup, `%:${ids.storageGroup}`);
    adb
      .prepare('DELETE FROM pgroups WHERE name = ? OR name LIKE ?')
      .run(ids.storageGroup, `%:${ids.storageGroup}`);
  } finally {
    adb.close();
  }
  writeFileSync(templateFile(lab.dir), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

/** Replaces every identifier of `map` in a row (longest first, so a name inside another is kept apart). */
function substitute(row, pairs) {
  let text = JSON.stringify(row);
  for (const [from, to] of pairs) text = text.split(from).join(to);
  return JSON.parse(text);
}

const pairsOf = (map) => Object.entries(map).sort((a, b) => b[0].length - a[0].length);

const statements = new WeakMap();

function insertAll(db, table, rows) {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  let byTable = statements.get(db);
  if (!byTable) {
    byTable = new Map();
    statements.set(db, byTable);
  }
  const key = `${table}(${cols.join(',')})`;
  let stmt = byTable.get(key);
  if (!stmt) {
    stmt = db.prepare(
      `INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(',')}) VALUES (${cols.map(() => '?').join(',')})`,
    );
    byTable.set(key, stmt);
  }
  for (const r of rows) stmt.run(...cols.map((c) => r[c]));
}

/**
 * Adds groups `from` .. `to - 1` (names `bench-<5 digits>`), `members` members each with the template
 * member's volumes, to the stopped lab. `replicate`: the array groups' schedules run (every
 * `frequency_ms` of the template, the policy's interval), with their next snapshot spread over one
 * interval; otherwise they are off, and the arrays hold the groups but take no snapshots.
 */
export function seedGroups(lab, { from, to, members, replicate }) {
  if (!existsSync(templateFile(lab.dir))) throw new Error('dataset: capture the template first');
  const tpl = JSON.parse(readFileSync(templateFile(lab.dir), 'utf8'));
  const { ids } = tpl;
  const plan = [];
  for (let i = from; i < to; i++) {
    const id = randomUUID();
    const name = groupName(i);
    const group = {
      [ids.groupId]: id,
      [ids.storageGroup]: `pg-${name}-${id.slice(0, 8)}`,
      [tpl.sites.boston.group.name]: name,
    };
    for (const site of Object.keys(tpl.sites)) {
      const cg = tpl.sites[site].group.consistency_group_id;
      if (cg) group[cg] = randomUUID();
    }
    const memberMaps = [];
    for (let j = 0; j < members; j++) {
      const m = {
        ...group,
        [ids.memberId]: randomUUID(),
        [ids.memberName]: `${name}-vm${j}`,
        [ids.serverId]: randomUUID(),
      };
      ids.volumeIds.forEach((v, k) => {
        m[v] = randomUUID();
        m[ids.cinderVolumeIds[k]] = randomUUID();
      });
      memberMaps.push(m);
    }
    plan.push({ id, group, memberMaps });
  }

  for (const site of Object.keys(tpl.sites)) {
    const t = tpl.sites[site];
    const key = parseSecretKey(readFileSync(join(lab.dir, site, 'secret.key'), 'utf8'));
    const db = new Database(siteDbFile(lab.dir, site));
    db.pragma('busy_timeout = 30000');
    try {
      db.transaction(() => {
        for (const g of plan) {
          const pairs = pairsOf(g.group);
          insertAll(db, SITE_TABLES.group, [substitute(t.group, pairs)]);
          if (t.policy) {
            const p = substitute(t.policy, pairs);
            for (const which of ['primary', 'secondary']) {
              const col = `${which}_token_cipher`;
              if (p[col]) p[col] = encryptSecret(key, tpl.token, `replication_policy:${g.id}:${which}`);
            }
            insertAll(db, SITE_TABLES.policy, [p]);
          }
          insertAll(
            db,
            SITE_TABLES.mapping,
            t.mappings.map((r) => ({ ...substitute(r, pairs), id: randomUUID() })),
          );
          for (const m of g.memberMaps) {
            const mp = pairsOf(m);
            insertAll(db, SITE_TABLES.member, [substitute(t.member, mp)]);
            insertAll(
              db,
              SITE_TABLES.volume,
              t.volumes.map((v) => substitute(v, mp)),
            );
          }
        }
      })();
    } finally {
      db.close();
    }
  }

  const adb = new Database(lab.arrayStoreFile);
  adb.pragma('busy_timeout = 30000');
  try {
    const now = Date.now();
    adb.transaction(() => {
      for (const g of plan) {
        const pairs = pairsOf(g.group);
        insertAll(
          adb,
          'pgroups',
          tpl.arrays.pgroups.map((r) => {
            const row = substitute(r, pairs);
            if (row.schedule_enabled || row.name === g.group[ids.storageGroup]) {
              row.schedule_enabled = replicate ? 1 : 0;
              // The next scheduled snapshot falls anywhere in the coming interval, as for groups made over time.
              row.last_scheduled = now - Math.floor(Math.random() * row.frequency_ms);
              row.snap_seq = 0;
            }
            return row;
          }),
        );
        insertAll(
          adb,
          'pgroup_targets',
          tpl.arrays.pgroupTargets.map((r) => substitute(r, pairs)),
        );
        for (const m of g.memberMaps) {
          const mp = pairsOf(m);
          insertAll(
            adb,
            'volumes',
            tpl.arrays.volumes.map((r) => {
              const serial = randomBytes(12).toString('hex').toUpperCase();
              return { ...substitute(r, mp), serial, content_origin: serial };
            }),
          );
          insertAll(
            adb,
            'pgroup_volumes',
            tpl.arrays.pgroupVolumes.map((r) => substitute(r, mp)),
          );
        }
      }
    })();
  } finally {
    adb.close();
  }
}

/** Turns the array schedules of every bench group on or off (the lab must be stopped). */
export function setReplication(lab, on) {
  const adb = new Database(lab.arrayStoreFile);
  adb.pragma('busy_timeout = 30000');
  try {
    const now = Date.now();
    const rows = adb
      .prepare("SELECT name, frequency_ms FROM pgroups WHERE name LIKE 'pg-bench-%' AND array = source")
      .all();
    const stmt = adb.prepare(
      'UPDATE pgroups SET schedule_enabled = ?, last_scheduled = ? WHERE name = ? AND array = source',
    );
    adb.transaction(() => {
      for (const r of rows) stmt.run(on ? 1 : 0, now - Math.floor(Math.random() * r.frequency_ms), r.name);
    })();
  } finally {
    adb.close();
  }
}

/** Counts what the stopped lab holds: groups and members per site, array groups and volumes. */
export function countDataset(lab) {
  const out = {};
  for (const site of Object.keys(lab.sites)) {
    const db = new Database(siteDbFile(lab.dir, site), { readonly: true });
    try {
      out[site] = {
        groups: db.prepare(`SELECT COUNT(*) AS n FROM ${SITE_TABLES.group}`).get().n,
        members: db.prepare(`SELECT COUNT(*) AS n FROM ${SITE_TABLES.member}`).get().n,
      };
    } finally {
      db.close();
    }
  }
  return out;
}
