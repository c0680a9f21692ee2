// What PostgreSQL's text and jsonb can hold: valid Unicode without U+0000. A value that fails this
// check can match nothing stored, so a lookup may answer "not found" without asking the database.

/** Whether `text` can be stored and compared by PostgreSQL as it is. */
export function isStorableText(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed()
}

/** `text` made storable: U+0000 and unpaired surrogates become U+FFFD, for text the server keeps as it came (a receiver's answer). */
export function toStorableText(text: string): string {
  return text.toWellFormed().replaceAll('\u0000', '\uFFFD')
}
