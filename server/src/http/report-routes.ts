/**
 * The township's reports over REST (docs/reports.md):
 *
 * - GET /api/reports?period=2026-Q4[&villageId=]: the figures per village in
 *   the caller's scope and together;
 * - GET /api/reports/export.xlsx?period=…[&villageId=]: the same as a workbook.
 *
 * admin, township (its villages) and duty (theirs); a helper is refused (403):
 * a report is about every person of a village, a helper sees only their own.
 * The figures carry no names, phone or ID numbers (the device lines name the
 * device's user, as the device health view does for these roles); a workbook
 * that leaves the server is still audited (`report.export`: who, which period
 * and villages), like the registry's: the office must be able to say which
 * figures went to the county, and when.
 */
import { ApiError, ReportQuery, TownshipReport, type UserRole } from '@kanjia/protocol';
import { DEFAULT_DEVICE_HEALTH_SETTINGS } from '@kanjia/detection';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import type { Db } from '../db/database.js';
import { RegistryError, type SqliteRegistryStore, type VillageRow } from '../registry/registry-store.js';
import type { VisitFrequencies } from '../township/visit-schedule.js';
import { parsePeriod, periodLabelZh } from '../township/reports/period.js';
import { buildReport } from '../township/reports/report-source.js';
import { reportXlsx } from '../township/reports/report-xlsx.js';
import { canSeeVillage, type SessionUser } from './access.js';
import { checkRoles } from './role-check.js';
import { contentDisposition } from './spreadsheet-routes.js';

export interface ReportRouteDeps {
  db: Db;
  registry: SqliteRegistryStore;
  frequencies: VisitFrequencies;
  nowMs: () => number;
  /** The deployment's time zone (the workbook's date). */
  timezone: string;
  /** Where an export is recorded (`report.export`); omitted in tests that do not look. */
  audit?: Pick<SqliteAuditLog, 'record'>;
}

const REPORT_ROLES: readonly UserRole[] = ['admin', 'township', 'duty'];
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Registers the report routes on `app` (an encapsulated plugin). */
export async function reportRoutes(app: FastifyInstance, deps: ReportRouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError };
  checkRoles(app);

  const report = (req: FastifyRequest, query: ReportQuery): TownshipReport => {
    const user = req.user as SessionUser;
    let villages: VillageRow[] = deps.registry.allVillages().filter((v) => canSeeVillage(user, v.id));
    if (query.villageId !== undefined) {
      villages = villages.filter((v) => v.id === query.villageId);
      if (villages.length === 0) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${query.villageId}`);
    }
    return buildReport(deps, villages, parsePeriod(query.period), { frequencies: deps.frequencies, lowBatteryPct: DEFAULT_DEVICE_HEALTH_SETTINGS.lowBatteryPct }, deps.nowMs());
  };

  r.get('/api/reports', { config: { roles: REPORT_ROLES }, schema: { querystring: ReportQuery, response: { 200: TownshipReport, ...errors } } }, async (req) => report(req, req.query));

  r.get('/api/reports/export.xlsx', { config: { roles: REPORT_ROLES }, schema: { querystring: ReportQuery } }, async (req, reply) => {
    const user = req.user as SessionUser;
    const data = report(req, req.query);
    const bytes = await reportXlsx(data, deps.timezone);
    deps.audit?.record({
      action: 'report.export',
      userId: user.id,
      actor: user.displayName,
      target: req.query.villageId ?? null,
      detail: `${data.period.code}, ${data.villages.length} village(s)`,
      address: req.ip,
    });
    return reply
      .header('content-type', XLSX_TYPE)
      .header('content-disposition', contentDisposition(`${data.title}${periodLabelZh(data.period)}报告.xlsx`, `kanjia-report-${data.period.code}.xlsx`))
      .header('cache-control', 'no-store')
      .send(bytes);
  });
}
