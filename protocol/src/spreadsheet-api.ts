/**
 * The registry in and out of spreadsheets over REST (docs/spreadsheets.md):
 * the upload (base64 in JSON, with the preview's digest to confirm), the
 * preview of what an import would do and why rows cannot be imported, the
 * import's result, and the export's query. Messages in a preview are in
 * Chinese: they are shown to the township office as they are.
 */
import { z } from 'zod';

/** The largest spreadsheet accepted, in bytes (before base64). */
export const MAX_SPREADSHEET_BYTES = 5 * 1024 * 1024;

export const SpreadsheetImportBody = z
  .object({
    /** The file's name as chosen (shown back; the content decides the format, not the name). */
    fileName: z.string().trim().min(1).max(200),
    /** The file's bytes, base64 (standard alphabet; a data: URL prefix is accepted). */
    contentBase64: z.string().min(1, 'contentBase64: the file is empty').max(Math.ceil((MAX_SPREADSHEET_BYTES * 4) / 3) + 200, `contentBase64: the file is larger than ${MAX_SPREADSHEET_BYTES / 1024 / 1024} MiB`),
    /** The village for rows that name none (no 所属村 column, no village in the sheet's name or title). */
    villageId: z.string().min(1).max(64).optional(),
    /** Absent: preview only, nothing is written. The digest of the preview being confirmed: imports it. */
    confirmDigest: z.string().regex(/^[0-9a-f]{64}$/, 'confirmDigest: the digest of the preview (64 hex characters)').optional(),
  })
  .strict();
export type SpreadsheetImportBody = z.infer<typeof SpreadsheetImportBody>;

/** A row that cannot be imported (or, as a warning, imports with something missing). */
export const SpreadsheetRowProblem = z.object({
  sheet: z.string(),
  /** The row number as the spreadsheet shows it. */
  row: z.number().int().positive(),
  /** The column's name (帮扶责任人（职务）); null: the whole row. */
  column: z.string().nullable(),
  message: z.string(),
});
export type SpreadsheetRowProblem = z.infer<typeof SpreadsheetRowProblem>;

/** One person the import would create or update (names only: no ID or phone numbers are sent back). */
export const SpreadsheetPlannedRow = z.object({
  sheet: z.string(),
  row: z.number().int().positive(),
  action: z.enum(['create', 'update']),
  residentId: z.string().nullable(),
  name: z.string(),
  villageId: z.string(),
  villageName: z.string(),
  address: z.string(),
  /** Helpers (and a guardian) who join the contact chain. */
  newContacts: z.number().int().nonnegative(),
});
export type SpreadsheetPlannedRow = z.infer<typeof SpreadsheetPlannedRow>;

export const SpreadsheetPreview = z.object({
  fileName: z.string(),
  format: z.enum(['xlsx', 'csv']),
  /** A CSV file's text encoding (utf-8, gb18030 …); null for xlsx. */
  encoding: z.string().nullable(),
  sheets: z.array(
    z.object({
      name: z.string(),
      headerRow: z.number().int().positive(),
      columns: z.array(z.object({ header: z.string(), field: z.string(), as: z.string() })),
      ignoredColumns: z.array(z.string()),
    }),
  ),
  rows: z.array(SpreadsheetPlannedRow),
  problems: z.array(SpreadsheetRowProblem),
  warnings: z.array(SpreadsheetRowProblem),
  counts: z.object({ create: z.number().int(), update: z.number().int(), rejected: z.number().int() }),
  /** Send it back as confirmDigest, with the same file, to import exactly this. */
  digest: z.string(),
});
export type SpreadsheetPreview = z.infer<typeof SpreadsheetPreview>;

export const SpreadsheetImportAnswer = z.discriminatedUnion('imported', [
  z.object({ imported: z.literal(false), preview: SpreadsheetPreview }),
  z.object({
    imported: z.literal(true),
    created: z.number().int(),
    updated: z.number().int(),
    /** Rows not imported: those the preview listed as problems. */
    skipped: z.number().int(),
    householdsCreated: z.number().int(),
    residentIds: z.array(z.string()),
  }),
]);
export type SpreadsheetImportAnswer = z.infer<typeof SpreadsheetImportAnswer>;

export const SpreadsheetExportQuery = z.object({ villageId: z.string().min(1).max(64).optional() }).strict();
export type SpreadsheetExportQuery = z.infer<typeof SpreadsheetExportQuery>;
