/**
 * The import preview as text for the command line: what would be created or
 * updated, every row that cannot be imported with its column and reason.
 * Names only: no ID or phone numbers are printed (terminal logs are kept).
 */
import type { ImportPlan } from './import-plan.js';
import type { RowProblem } from './sheet-rows.js';

const where = (p: RowProblem) => `${p.sheet} 第 ${p.row} 行${p.column ? ` ${p.column}` : ''}`;

/** The preview of importing `fileName`, ending with a newline. */
export function formatPreview(fileName: string, plan: ImportPlan): string {
  const lines: string[] = [`预览 Preview: ${fileName} (${plan.format}${plan.encoding ? `, ${plan.encoding}` : ''})`];
  for (const s of plan.sheets) {
    lines.push(`  工作表 sheet “${s.name}”: 表头 header row ${s.headerRow}; 列 columns: ${s.columns.map((c) => c.as).join(', ')}`);
    if (s.ignoredColumns.length > 0) lines.push(`    未识别、不导入的列 columns not imported: ${s.ignoredColumns.join(', ')}`);
  }
  const create = plan.people.filter((p) => p.action === 'create').length;
  const rejected = new Set(plan.problems.map((p) => `${p.sheet}\u0000${p.row}`)).size;
  lines.push(`  新建 create ${create} · 更新 update ${plan.people.length - create} · 不能导入 rejected ${rejected} row(s)`);
  if (plan.problems.length > 0) {
    lines.push('', '不能导入的行 Rows that cannot be imported:');
    for (const p of plan.problems) lines.push(`  ${where(p)}: ${p.message}`);
  }
  if (plan.warnings.length > 0) {
    lines.push('', '提示 Warnings (the row imports):');
    for (const p of plan.warnings) lines.push(`  ${where(p)}: ${p.message}`);
  }
  if (plan.people.length > 0) {
    lines.push('', '将导入 Would import:');
    for (const p of plan.people) {
      lines.push(`  ${p.sheet} 第 ${p.row} 行: ${p.action === 'create' ? '新建 create' : '更新 update'} ${p.name} · ${p.villageName} · ${p.address}${p.contacts.length > 0 ? ` · +${p.contacts.length} 联系人 contact(s)` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
