/** A form's text fields (files and repeated names are left out: no console form uses them as text). */
export type FormValues = Record<string, string>;

export function formValues(body: Record<string, unknown>): FormValues {
  const out: FormValues = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string' && k !== '_csrf') out[k] = v;
  return out;
}

/** `datetime-local` text in the browser's zone (offset in minutes, as getTimezoneOffset gives it) → ISO. */
export function localToIso(local: string, tzOffsetMinutes: string | undefined): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(local)) return undefined;
  const utc = Date.parse(`${local}Z`);
  if (Number.isNaN(utc)) return undefined;
  const offset = Number(tzOffsetMinutes ?? 0);
  return new Date(utc + (Number.isFinite(offset) ? offset : 0) * 60_000).toISOString();
}
