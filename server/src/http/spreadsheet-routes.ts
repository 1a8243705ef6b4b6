/**
 * The registry in and out of spreadsheets over REST (docs/spreadsheets.md).
 *
 * - POST /api/registry/import: the file as base64 in JSON. Without
 *   `confirmDigest` the answer is the preview (what would be created or
 *   updated, every row that cannot be imported and why) and nothing is
 *   written; the same file posted again with the preview's digest imports
 *   exactly that, in one transaction, or answers 409 IMPORT_PLAN_CHANGED
 *   with the new preview when the file or the registry changed in between.
 *   admin and township everywhere in their scope, a duty officer into their
 *   own villages only.
 * - GET /api/registry/export.xlsx[?villageId=]: the registry in the policy's
 *   sample layout, a sheet per village in the caller's scope, phone and ID
 *   numbers masked as the caller's role requires.
 */
import {
  ApiError,
  MAX_SPREADSHEET_BYTES,
  SpreadsheetExportQuery,
  SpreadsheetImportAnswer,
  SpreadsheetImportBody,
  SpreadsheetPreview,
  type UserRole,
} from '@kanjia/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import type { Db } from '../db/database.js';
import type { SqliteTownshipStore } from '../township/township-store.js';
import { localDateOf, RegistryError, type SqliteRegistryStore } from '../registry/registry-store.js';
import { applyImportPlan, planImport, type ImportPlan } from '../township/spreadsheet/import-plan.js';
import { registryXlsx } from '../township/spreadsheet/registry-export.js';
import { SpreadsheetError } from '../township/spreadsheet/spreadsheet-errors.js';
import { canSeeVillage, type SessionUser } from './access.js';
import { idNumberFor, phoneFor } from './masking.js';
import { checkRoles } from './role-check.js';

export interface SpreadsheetRouteDeps {
  registry: SqliteRegistryStore;
  /** The registry's database: an import is one transaction over it. */
  db: Db;
  audit?: Pick<SqliteAuditLog, 'record'>;
  nowMs: () => number;
  /** The time zone of the export's date (KANJIA_TIMEZONE). */
  timezone: string;
  /** Where each imported person's history is kept (docs/township.md); absent: not kept. */
  township?: Pick<SqliteTownshipStore, 'recorded' | 'recordCreated'>;
  /**
   * An import wrote residents and contacts: helpers' scopes follow contact chains (the live feed
   * re-scopes), and the shared devices of these households now stand for the new people too.
   */
  onImported?: (deviceIds: readonly string[]) => void;
}

/** Who may import: the registry keepers, and a duty officer into their own villages. */
const IMPORTERS: readonly UserRole[] = ['admin', 'township', 'duty'];
/** The JSON body around the base64 file: a third larger than the file, and a little more. */
const BODY_LIMIT_BYTES = Math.ceil((MAX_SPREADSHEET_BYTES * 4) / 3) + 64 * 1024;
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Registers the spreadsheet routes on `app` (an encapsulated plugin). */
export async function spreadsheetRoutes(app: FastifyInstance, deps: SpreadsheetRouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const userOf = (req: FastifyRequest): SessionUser => req.user as SessionUser;
  // The roles of `config.roles`, enforced here too, before the body is read.
  checkRoles(app);

  r.post(
    '/api/registry/import',
    {
      bodyLimit: BODY_LIMIT_BYTES,
      config: { roles: IMPORTERS },
      schema: {
        body: SpreadsheetImportBody,
        response: { 200: SpreadsheetImportAnswer, 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError, 409: ApiError.extend({ preview: SpreadsheetPreview }), 413: ApiError },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const body = req.body;
      const bytes = fromBase64(body.contentBase64);
      if (bytes.length > MAX_SPREADSHEET_BYTES) {
        throw new SpreadsheetError('SPREADSHEET_TOO_LARGE', `文件有 ${(bytes.length / 1024 / 1024).toFixed(1)} MiB，超过了 ${MAX_SPREADSHEET_BYTES / 1024 / 1024} MiB 的上限：请按村拆分，或删去图片和无用的工作表`);
      }
      if (body.villageId !== undefined && !canSeeVillage(user, body.villageId)) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${body.villageId}`);
      const plan = await planImport(bytes, deps.registry, { villageIds: user.villageIds }, body.villageId === undefined ? {} : { villageId: body.villageId });
      const preview = previewOf(body.fileName, plan);
      if (body.confirmDigest === undefined) return { imported: false as const, preview };
      if (body.confirmDigest !== plan.digest) {
        return reply.code(409).send({ code: 'IMPORT_PLAN_CHANGED', message: '文件或台账在预览之后有了变化：没有导入任何内容，请查看新的预览后再确认', preview });
      }
      const result = applyImportPlan(deps.db, deps.registry, plan, deps.township ? { store: deps.township, by: { userId: user.id, name: user.displayName } } : undefined);
      deps.audit?.record({
        action: 'registry.import',
        userId: user.id,
        actor: user.displayName,
        target: body.fileName,
        detail: `${result.created} created, ${result.updated} updated, ${result.skipped} rows not imported`,
        address: req.ip,
      });
      if (result.created + result.updated > 0) deps.onImported?.(result.householdIds.flatMap((householdId) => deps.registry.devices({ householdId }).map((d) => d.id)));
      const { householdIds: _households, ...answer } = result;
      return { imported: true as const, ...answer };
    },
  );

  r.get('/api/registry/export.xlsx', { schema: { querystring: SpreadsheetExportQuery } }, async (req, reply) => {
    const user = userOf(req);
    const { villageId } = req.query;
    const village = villageId === undefined ? undefined : deps.registry.village(villageId);
    if (villageId !== undefined && (!village || !canSeeVillage(user, villageId))) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${villageId}`);
    const today = localDateOf(deps.timezone, deps.nowMs());
    const { bytes, villages, people } = await registryXlsx(deps.registry, {
      villageIds: user.villageIds,
      ...(user.residentIds ? { residentIds: user.residentIds } : {}),
      ...(villageId ? { villageId } : {}),
      phone: (p) => phoneFor(user, p),
      idNumber: (id) => idNumberFor(user, id),
      today,
    });
    deps.audit?.record({ action: 'registry.export', userId: user.id, actor: user.displayName, target: village?.id ?? null, detail: `${villages.length} village(s), ${people} people`, address: req.ip });
    const name = exportFileName(village ? `${village.township ?? ''}${village.name}` : (villages.length === 1 ? `${villages[0]?.township ?? ''}${villages[0]?.name}` : '关爱对象'), today);
    return reply
      .header('content-type', XLSX_TYPE)
      .header('content-disposition', contentDisposition(name, `kanjia-registry-${today}.xlsx`))
      .header('cache-control', 'no-store')
      .send(bytes);
  });
}

/** The file's bytes from base64 (a data: URL prefix, as FileReader gives, is dropped). */
function fromBase64(text: string): Buffer {
  const b64 = text.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw new SpreadsheetError('SPREADSHEET_UNREADABLE', 'contentBase64 不是 base64 编码的文件');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0) throw new SpreadsheetError('SPREADSHEET_EMPTY', '文件是空的（0 字节）');
  return bytes;
}

/** The preview as the API sends it: names, villages, actions and problems; no ID or phone numbers. */
export function previewOf(fileName: string, plan: ImportPlan): SpreadsheetPreview {
  const rejected = new Set(plan.problems.map((p) => `${p.sheet}\u0000${p.row}`)).size;
  return {
    fileName,
    format: plan.format,
    encoding: plan.encoding,
    sheets: plan.sheets,
    rows: plan.people.map((p) => ({
      sheet: p.sheet,
      row: p.row,
      action: p.action,
      residentId: p.residentId,
      name: p.name,
      villageId: p.villageId,
      villageName: p.villageName,
      address: p.address,
      newContacts: p.contacts.length,
    })),
    problems: plan.problems,
    warnings: plan.warnings,
    counts: { create: plan.people.filter((p) => p.action === 'create').length, update: plan.people.filter((p) => p.action === 'update').length, rejected },
    digest: plan.digest,
  };
}

/** 石门镇石门村台账-2026-12-02.xlsx */
export function exportFileName(what: string, today: string): string {
  return `${what}台账-${today}.xlsx`;
}

/** An attachment with a Chinese file name: an ASCII `filename` for old clients, the real one as RFC 6266 / 5987 say (filename*=UTF-8''…). */
export function contentDisposition(fileName: string, asciiFallback: string): string {
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${asciiFallback.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encoded}`;
}
