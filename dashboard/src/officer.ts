/**
 * The duty officer's name: asked once, kept in localStorage, sent as `by` with
 * every action so the case history says who did what.
 */
import { ref } from 'vue';

/** Same bound as the protocol's `by` (Actor) field. */
export const OFFICER_NAME_MAX_CHARS = 64;
const STORAGE_KEY = 'kanjia.officerName';

export type OfficerNameCheck = { ok: true; name: string } | { ok: false; problem: 'required' | 'tooLong' };

/** Trims and checks a typed name. */
export function checkOfficerName(raw: string): OfficerNameCheck {
  const name = raw.trim().replace(/\s+/g, ' ');
  if (name.length === 0) return { ok: false, problem: 'required' };
  if (name.length > OFFICER_NAME_MAX_CHARS) return { ok: false, problem: 'tooLong' };
  return { ok: true, name };
}

function load(): string {
  try {
    const stored = globalThis.localStorage?.getItem(STORAGE_KEY) ?? '';
    const check = checkOfficerName(stored);
    return check.ok ? check.name : '';
  } catch {
    return '';
  }
}

/** The current officer's name; '' until it has been entered. */
export const officerName = ref<string>(load());

export function saveOfficerName(name: string): void {
  officerName.value = name;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, name);
  } catch {
    // Without storage the name lasts until the page is reloaded; still usable.
  }
}
