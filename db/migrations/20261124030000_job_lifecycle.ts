// The job model beyond PCO's five attributes: totals and progress, per-task results, timestamps,
// creator, outputs, scripted scenarios, idempotent writes, and change notifications for watchers.
import type { Knex } from 'knex'

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('job_statuses', (t) => {
    t.text('kind')
    t.integer('total')
    t.integer('progress').notNullable().defaultTo(0)
    t.bigInteger('created_by').references('people.id').onDelete('SET NULL')
    t.timestamp('completed_at', { useTz: true })
    t.timestamp('failed_at', { useTz: true })
    t.jsonb('outputs').notNullable().defaultTo('[]')
    t.integer('results_count').notNullable().defaultTo(0)
    // A scripted job (duration, total, the task it fails or is killed at) and when it next moves.
    t.jsonb('scenario')
    t.timestamp('scenario_due_at', { useTz: true })
    // Filters and orders served by the list, each with id as the tie-breaker.
    t.index(['organization_id', 'status', 'id'], 'job_statuses_organization_id_status_id_index')
    t.index(['organization_id', 'started_at', 'id'], 'job_statuses_organization_id_started_at_id_index')
    t.index(['organization_id', 'created_at', 'id'], 'job_statuses_organization_id_created_at_id_index')
  })
  await db.raw('ALTER TABLE job_statuses ADD CONSTRAINT job_statuses_progress_check CHECK (progress >= 0)')
  await db.raw('ALTER TABLE job_statuses ADD CONSTRAINT job_statuses_total_check CHECK (total IS NULL OR total >= 0)')
  await db.raw('CREATE INDEX job_statuses_scenario_due_at_index ON job_statuses (scenario_due_at) WHERE scenario_due_at IS NOT NULL')

  await db.schema.createTable('job_status_results', (t) => {
    t.bigIncrements('id')
    t.bigInteger('job_status_id').notNullable().references('job_statuses.id').onDelete('CASCADE')
    // The task's own id, as the worker reports it (Zendesk's `id` in a result).
    t.text('task_id')
    t.text('action')
    t.boolean('success')
    t.text('status')
    t.jsonb('errors')
    t.text('title')
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.index(['job_status_id', 'id'])
  })

  await db.schema.createTable('idempotency_keys', (t) => {
    t.bigInteger('person_id').notNullable().references('people.id').onDelete('CASCADE')
    t.text('key').notNullable()
    // What the key was first used for: the same key on another request is refused, not replayed.
    t.text('request_fingerprint').notNullable()
    t.integer('status').notNullable()
    t.text('body').notNullable()
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now())
    t.primary(['person_id', 'key'])
  })

  // Every change of a job reaches its watchers, in whichever process they are connected.
  await db.raw(`CREATE FUNCTION job_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('job_status_changed', NEW.organization_id::text || ':' || NEW.id::text);
      RETURN NULL;
    END $$`)
  await db.raw(`CREATE TRIGGER job_status_changed AFTER UPDATE ON job_statuses
    FOR EACH ROW EXECUTE FUNCTION job_status_changed()`)
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP TRIGGER IF EXISTS job_status_changed ON job_statuses')
  await db.raw('DROP FUNCTION IF EXISTS job_status_changed()')
  await db.schema.dropTableIfExists('idempotency_keys')
  await db.schema.dropTableIfExists('job_status_results')
  await db.raw('DROP INDEX IF EXISTS job_statuses_scenario_due_at_index')
  await db.schema.alterTable('job_statuses', (t) => {
    t.dropIndex([], 'job_statuses_organization_id_status_id_index')
    t.dropIndex([], 'job_statuses_organization_id_started_at_id_index')
    t.dropIndex([], 'job_statuses_organization_id_created_at_id_index')
    for (const column of ['kind', 'total', 'progress', 'created_by', 'completed_at', 'failed_at', 'outputs', 'results_count', 'scenario', 'scenario_due_at']) {
      t.dropColumn(column)
    }
  })
}
