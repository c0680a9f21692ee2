import type { Knex } from 'knex'

// Whether a result's task id was sent as a JSON number: Zendesk's results give it back in the type
// it came in. Ids stored before were all-digit ones shown as numbers: they keep that.
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('job_status_results', (t) => t.boolean('task_id_is_number').notNullable().defaultTo(false))
  await db.raw("UPDATE job_status_results SET task_id_is_number = true WHERE task_id ~ '^[0-9]{1,15}$'")
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('job_status_results', (t) => t.dropColumn('task_id_is_number'))
}
