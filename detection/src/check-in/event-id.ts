/**
 * Stable event ids for derived findings. They travel back to the device in
 * `received`/`taken` commands, whose `eventId` is a protocol MessageId
 * (1–64 characters of A–Z a–z 0–9 . _ : -), and the gateway rejects any other.
 * Ids are `{kind}:{entity}:{occurrence}`; when the entity (a resident or
 * device id from elsewhere, e.g. a zigbee2mqtt friendly name) would break that
 * rule, it is replaced by a 64-bit FNV-1a hash of itself — still stable
 * across restarts, which is all the dedup needs.
 */

const MESSAGE_ID_CHARS = /^[A-Za-z0-9._:-]+$/;
const MAX_LENGTH = 64;

export function derivedEventId(kind: string, entity: string, occurrence: string | number): string {
  const plain = `${kind}:${entity}:${occurrence}`;
  if (plain.length <= MAX_LENGTH && MESSAGE_ID_CHARS.test(plain)) return plain;
  return `${kind}:h${fnv1a32(entity, 0x811c9dc5)}${fnv1a32(entity, 0x050c5d1f)}:${occurrence}`;
}

function fnv1a32(text: string, seed: number): string {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
