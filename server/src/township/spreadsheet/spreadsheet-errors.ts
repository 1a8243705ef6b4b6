/**
 * The errors of spreadsheet import and export: a file that cannot be read,
 * and a confirmation whose plan is no longer the one previewed. Messages are
 * in Chinese: they are shown to the township office as they are.
 */
import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';

export type SpreadsheetErrorCode = CatalogCodes<'SPREADSHEET_EMPTY' | 'SPREADSHEET_UNREADABLE' | 'SPREADSHEET_TOO_LARGE' | 'SPREADSHEET_NO_HEADER' | 'IMPORT_PLAN_CHANGED'>;

export class SpreadsheetError extends KanjiaError<SpreadsheetErrorCode> {
  override readonly name = 'SpreadsheetError';
}
