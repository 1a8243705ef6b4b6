/**
 * Personal numbers in an API answer, as the asking user may see them: every
 * route that returns a phone or an ID number passes it through these (house
 * rule: shown only to the roles that need them, access.ts).
 */
import { maskIdNumber, maskPhone } from '@kanjia/protocol';
import { seesIdNumbers, seesPhoneNumbers, type SessionUser } from './access.js';

/** The phone number in clear for admin/township/duty, else 138****5678. */
export function phoneFor(user: SessionUser, phone: string): string;
export function phoneFor(user: SessionUser, phone: string | null): string | null;
export function phoneFor(user: SessionUser, phone: string | null): string | null {
  if (phone === null) return null;
  return seesPhoneNumbers(user) ? phone : maskPhone(phone);
}

/** The ID number (身份证号) in clear for admin/township, else 430524********1240. */
export function idNumberFor(user: SessionUser, idNumber: string): string;
export function idNumberFor(user: SessionUser, idNumber: string | null): string | null;
export function idNumberFor(user: SessionUser, idNumber: string | null): string | null {
  if (idNumber === null) return null;
  return seesIdNumbers(user) ? idNumber : maskIdNumber(idNumber);
}
