// A revision per organization, bumped by every change to its job statuses, updates included: a list
// page built at one revision is still exact at the same revision (src/job-statuses/pages.ts).
import type { Knex } from 'knex'

// PGlite takes one statement per call.
const UP = [
  `ALTER TABLE job_status_counts ADD COLUMN revision bigint NOT NULL DEFAULT 0`,
  `CREATE OR REPLACE FUNCTION job_status_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO job_status_counts AS c (organization_id, total, version, revision)
      SELECT organization_id, count(*), 1, 1 FROM inserted GROUP BY organization_id ORDER BY organization_id
    ON CONFLICT (organization_id) DO UPDATE SET total = c.total + EXCLUDED.total, version = c.version + 1, revision = c.revision + 1;
    RETURN NULL;
  END $$`,
  `CREATE OR REPLACE FUNCTION job_status_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE job_status_counts AS c SET total = c.total - d.n, version = c.version + 1, revision = c.revision + 1
      FROM (SELECT organization_id, count(*) AS n FROM deleted GROUP BY organization_id ORDER BY organization_id) AS d
      WHERE c.organization_id = d.organization_id;
    RETURN NULL;
  END $$`,
  // Every organization an update touches gets a new revision. One whose set of ids changed (a job
  // moved in or out, or an id rewritten) also gets a new version and total, even when as many jobs
  // arrived as left: its cached positions no longer hold.
  `CREATE OR REPLACE FUNCTION job_status_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    WITH arrived AS (
      SELECT id, organization_id FROM inserted EXCEPT ALL SELECT id, organization_id FROM deleted
    ), departed AS (
      SELECT id, organization_id FROM deleted EXCEPT ALL SELECT id, organization_id FROM inserted
    ), changes AS (
      SELECT organization_id, 0 AS n, false AS moved FROM inserted
      UNION ALL SELECT organization_id, 1, true FROM arrived
      UNION ALL SELECT organization_id, -1, true FROM departed
    )
    INSERT INTO job_status_counts AS c (organization_id, total, version, revision)
      SELECT organization_id, sum(n), CASE WHEN bool_or(moved) THEN 1 ELSE 0 END, 1
      FROM changes GROUP BY organization_id ORDER BY organization_id
    ON CONFLICT (organization_id) DO UPDATE
      SET total = c.total + EXCLUDED.total, version = c.version + EXCLUDED.version, revision = c.revision + 1;
    RETURN NULL;
  END $$`,
]

export async function up(db: Knex): Promise<void> {
  for (const statement of UP) await db.raw(statement)
}

export async function down(db: Knex): Promise<void> {
  await db.raw(`CREATE OR REPLACE FUNCTION job_status_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO job_status_counts AS c (organization_id, total, version)
      SELECT organization_id, sum(n), 1 FROM (
        SELECT organization_id, count(*) AS n FROM inserted GROUP BY organization_id
        UNION ALL
        SELECT organization_id, -count(*) FROM deleted GROUP BY organization_id
      ) AS moved GROUP BY organization_id HAVING sum(n) <> 0 ORDER BY organization_id
    ON CONFLICT (organization_id) DO UPDATE SET total = c.total + EXCLUDED.total, version = c.version + 1;
    RETURN NULL;
  END $$`)
  await db.raw(`CREATE OR REPLACE FUNCTION job_status_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO job_status_counts AS c (organization_id, total, version)
      SELECT organization_id, count(*), 1 FROM inserted GROUP BY organization_id ORDER BY organization_id
    ON CONFLICT (organization_id) DO UPDATE SET total = c.total + EXCLUDED.total, version = c.version + 1;
    RETURN NULL;
  END $$`)
  await db.raw(`CREATE OR REPLACE FUNCTION job_status_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE job_status_counts AS c SET total = c.total - d.n, version = c.version + 1
      FROM (SELECT organization_id, count(*) AS n FROM deleted GROUP BY organization_id) AS d
      WHERE c.organization_id = d.organization_id;
    RETURN NULL;
  END $$`)
  await db.raw('ALTER TABLE job_status_counts DROP COLUMN revision')
}
