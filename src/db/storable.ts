// What PostgreSQL's text and jsonb can hold: valid Unicode without U+0000. A value that fails this
// check can match nothing stored, so a lookup may answer "not found" without asking the database.

/** Whether `text` can be stored and compared by PostgreSQL as it is. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed()
}
