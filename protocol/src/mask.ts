/** Masking of personal data for logs and for roles that must not see it (house rule 7). */

/** 13812345678 → 138****5678 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/^\+?86/, '');
  if (digits.length < 7) return '*'.repeat(digits.length);
  return `${digits.slice(0, 3)}****${digits.slice(-4)}`;
}

/** 110101194501011234 → 110101********1234 */
export function maskIdNumber(id: string): string {
  if (id.length < 10) return '*'.repeat(id.length);
  return `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}`;
}

/** 王秀英 → 王** (for logs only; the dashboard shows full names to duty staff). */
export function maskName(name: string): string {
  const chars = Array.from(name);
  return chars.length <= 1 ? '*' : `${chars[0]}${'*'.repeat(chars.length - 1)}`;
}

/** k7m2p9x4q3r8 → k7…(12): an SMS answer code is a credential; logs show only enough to tell two apart. */
export function maskAnswerCode(code: string): string {
  return `${code.slice(0, 2)}…(${code.length})`;
}
