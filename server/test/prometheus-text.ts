/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for the
 * metrics tests: every line must be a HELP, a TYPE or a sample of a declared
 * family, names and label values as the format allows; anything else throws
 * with the line.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;

/** Families by name. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const where = `line ${i + 1}: ${line}`;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (help) {
      family(help[1]!).help = help[2]!;
      continue;
    }
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      family(type[1]!).type = type[2] as Family['type'];
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample: ${where}`);
    const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    let rest = rawLabels ?? '';
    while (rest !== '') {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`bad labels: ${where}`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(l[0].length);
    }
    // As Prometheus reads them (Go's ParseFloat): Inf and NaN in any case (prom-client writes Nan).
    const special = rawValue.toLowerCase();
    const value = special === '+inf' || special === 'inf' ? Infinity : special === '-inf' ? -Infinity : special === 'nan' ? NaN : Number(rawValue);
    if (Number.isNaN(value) && special !== 'nan') throw new Error(`bad value: ${where}`);
    // A histogram's and a summary's series belong to the family without their suffix.
    const base = [...families.keys()].find((f) => name === f || ((families.get(f)!.type === 'histogram' || families.get(f)!.type === 'summary') && /^(_bucket|_sum|_count)$/.test(name.slice(f.length)) && name.startsWith(f)));
    if (base === undefined) throw new Error(`sample of an undeclared family: ${where}`);
    families.get(base)!.samples.push({ name, labels, value });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is none or several. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  const found = (base?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}
