/** A calendar day as `YYYY-MM-DD` that exists (`2025-02-30` and `2025-13-01` do not). */
export function isCalendarDate(text: string): boolean {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : Number.NaN;
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/** The UTC day `days` days before `day` (a `YYYY-MM-DD`, or today when absent). */
export function daysBefore(days: number, day: string = new Date().toISOString().slice(0, 10)): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}
