/**
 * A strict reader of Prometheus text exposition (0.0.4): every line must be a comment or a valid sample. Values
 * are Go floats, as Prometheus parses them (NaN and Inf in any case: prom-client writes `Nan`).
 */
const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE = new RegExp(
  `^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (-?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\\.[0-9]+)|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff])(?: -?[0-9]+)?$`,
);
const HELP = new RegExp(`^# HELP ${NAME} .*$`);
const TYPE = new RegExp(`^# TYPE ${NAME} (counter|gauge|histogram|summary|untyped)$`);
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export type Samples = Map<string, number>;

/** `name{a="1",b="2"}` with labels sorted: the key of one series. */
export const seriesKey = (name: string, labels: Record<string, string> = {}): string => {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return pairs.length ? `${name}{${pairs.map(([k, v]) => `${k}="${v}"`).join(',')}}` : name;
};

/** Every series and its value; throws on the first line that is not Prometheus text. */
export function parsePrometheus(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (!HELP.test(line) && !TYPE.test(line)) throw new Error(`not Prometheus text: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL_PAIR)) if (k) labels[k] = v ?? '';
    samples.set(seriesKey(m[1] ?? '', labels), Number(m[3]));
  }
  return samples;
}

/** The series' value, 0 when it is not there yet (a counter no one incremented). */
export const seriesValue = (s: Samples, name: string, labels: Record<string, string> = {}): number =>
  s.get(seriesKey(name, labels)) ?? 0;
