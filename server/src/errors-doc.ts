/**
 * docs/errors.md, generated from the protocol's error catalog so it cannot
 * drift: `npm run docs:errors` writes it, and test/error-catalog.test.ts
 * fails when the file in the repository is not what this renders.
 */
import { ERROR_CATALOG, ERROR_CODES, ERROR_SOURCES, type ErrorCatalogEntry, type ErrorSource } from '@kanjia/protocol';
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository's docs/errors.md. */
export const ERRORS_DOC_PATH = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The whole of docs/errors.md. */
export function renderErrorsDoc(): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from protocol/src/errors.ts by `npm run docs:errors`; edit the catalog, not this file. -->',
    '',
    'Every error Kanjia reports carries one of these stable codes: in REST answers (`{"code": …, "message": …}`),',
    'on the command line (`kanjia: CODE: message`), in the server log and in `/api/health`. A code keeps its',
    'name once published and means one thing everywhere. **HTTP** is the status the REST API answers it with',
    '(— : the API never answers it). Codes marked *system problem* are also listed by `/api/health` and shown',
    'on the dashboard as a banner.',
    '',
    'A dashboard older than its server shows a code it does not know as “the server reported an error (code …)”',
    'with the server’s message. Not listed here, because they are not Kanjia’s: the SMS provider’s own codes',
    '(alerts/src/sms/aliyun-error-codes.ts, shown in the notification list), MQTT CONNACK codes, the gateway’s',
    'drop reasons of a device payload (docs/protocol.md, counted in `/api/stats`), and Node’s and SQLite’s',
    'errno codes (which appear inside messages, e.g. `SQLITE_FULL`).',
    '',
  ];
  for (const source of Object.keys(ERROR_SOURCES) as ErrorSource[]) {
    const codes = ERROR_CODES.filter((code) => ERROR_CATALOG[code].from === source);
    if (codes.length === 0) continue;
    lines.push(`## ${ERROR_SOURCES[source]}`, '', '| Code | HTTP | Meaning | What to do |', '| --- | --- | --- | --- |');
    for (const code of codes) {
      const entry: ErrorCatalogEntry = ERROR_CATALOG[code];
      const meaning = entry.systemProblem ? `${entry.meaning} *System problem.*` : entry.meaning;
      lines.push(`| \`${code}\` | ${entry.status ?? '—'} | ${cell(meaning)} | ${cell(entry.action)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

// `node server/dist/errors-doc.js` (npm run docs:errors) rewrites the file.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(ERRORS_DOC_PATH, renderErrorsDoc());
  process.stdout.write(`wrote ${ERRORS_DOC_PATH}\n`);
}
