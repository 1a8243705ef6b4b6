/**
 * Pieces of the channels' zod settings (CONVENTIONS.md §4: parsed once, every
 * problem listed): an http(s) address, and a constructor's parse that throws
 * one error naming each bad setting.
 */
import { z } from 'zod';

/** An http(s) address alone (no ? or #), without its trailing slash. */
export function httpAddress(example: string) {
  return z
    .url({ protocol: /^https?$/, error: `an http(s) address such as ${example}` })
    .refine((u) => !/[?#]/.test(u), 'the address alone, without ? or #')
    .transform((u) => u.replace(/\/+$/, ''));
}

/** `input` parsed by `schema`; a bad one throws `${who}: bad settings:` with one line per problem. */
export function parseChannelSettings<S extends z.ZodType>(schema: S, input: unknown, who: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
  throw new Error(`${who}: bad settings:\n- ${problems.join('\n- ')}`);
}
