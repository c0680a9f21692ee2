// Per-organization job status counts, kept exact by statement triggers, so a list's total_count is one row read.
import type { Knex } from 'knex'

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('job_status_counts', (t) => {
    t.bigInteger('organization_id').primary().references('organizations.id').onDelete('CASCADE')
    t.bigInteger('total').notNullable().defaultTo(0)
    // Bumped by every insert or delete: cached page positions (src/job-statuses/positions.ts) hold while it stands still.
    t.bigInteger('version').notNullable().defaultTo(0)
  })

  // Statement-level triggers with transition tables: a bulk insert of a million rows is one upsert per
  // organization, not a million. The counter row's lock orders concurrent writers of one organization.
  // PGlite takes one statement per call.
  for (const statement of [
    `CREATE FUNCTION job_status_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO job_status_counts AS c (organization_id, total, version)
        SELECT organization_id, count(*), 1 FROM inserted GROUP BY organization_id ORDER BY organization_id
      ON CONFLICT (organization_id) DO UPDATE SET total = c.total + EXCLUDED.total, version = c.version + 1;
      RETURN NULL;
    END $$`,
    `CREATE FUNCTION job_status_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE job_status_counts AS c SET total = c.total - d.n, version = c.version + 1
        FROM (SELECT organization_id, count(*) AS n FROM deleted GROUP BY organization_id) AS d
        WHERE c.organization_id = d.organization_id;
      RETURN NULL;
    END $$`,
    `CREATE FUNCTION job_status_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Moving a job to another organization counts as a delete there and an insert here.
      INSERT INTO job_status_counts AS c (organization_id, total, version)
        SELECT organization_id, sum(n), 1 FROM (
          SELECT organization_id, count(*) AS n FROM inserted GROUP BY organization_id
          UNION ALL
          SELECT organization_id, -count(*) FROM deleted GROUP BY organization_id
        ) AS moved GROUP BY organization_id HAVING sum(n) <> 0 ORDER BY organization_id
      ON CONFLICT (organization_id) DO UPDATE SET total = c.total + EXCLUDED.total, version = c.version + 1;
      RETURN NULL;
    END $$`,
    `CREATE TRIGGER job_status_counts_insert AFTER INSERT ON job_statuses
      REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION job_status_counts_after_insert()`,
    `CREATE TRIGGER job_status_counts_delete AFTER DELETE ON job_statuses
      REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION job_status_counts_after_delete()`,
    `CREATE TRIGGER job_status_counts_update AFTER UPDATE ON job_statuses
      REFERENCING NEW TABLE AS inserted OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION job_status_counts_after_update()`,
  ]) {
    await db.raw(statement)
  }

  await db.raw(`
    INSERT INTO job_status_counts (organization_id, total, version)
      SELECT organization_id, count(*), 1 FROM job_statuses GROUP BY organization_id
  `)
}

export async function down(db: Knex): Promise<void> {
  for (const operation of ['insert', 'delete', 'update']) {
    await db.raw(`DROP TRIGGER IF EXISTS job_status_counts_${operation} ON job_statuses`)
    await db.raw(`DROP FUNCTION IF EXISTS job_status_counts_after_${operation}()`)
  }
  await db.schema.dropTableIfExists('job_status_counts')
}
