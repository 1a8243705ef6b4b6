import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SmsMessage, SmsResult, SmsSender } from '@kanjia/alerts';
import type { RegistryFile } from '@kanjia/protocol';

/** An SMS channel that keeps every message it is given and reports each as sent. */
export class RecordingSender implements SmsSender {
  readonly name = 'recording';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<SmsResult> {
    this.sent.push(message);
    return { ok: true, providerRef: `biz-${this.sent.length}` };
  }
}

/** A fresh data directory, removed by the returned cleanup. */
export function tempDataDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kanjia-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One village, one household of one resident with a chain of three contacts, and its devices (an SOS button by default). */
export function oneHousehold(devices: RegistryFile['villages'][number]['households'][number]['devices'] = [{ kind: 'sosButton' }]): RegistryFile {
  return {
    villages: [
      {
        name: '石门村',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: [
          {
            address: '石门村一组12号',
            lat: 27.112,
            lng: 111.031,
            keyHolderNote: '钥匙在隔壁王大姐家',
            residents: [
              {
                name: '王秀英',
                sex: 'F',
                birthYear: 1941,
                idNumber: '430524194101011234',
                contacts: [
                  { name: '刘建军', role: 'helper', phone: '13800000001' },
                  { name: '赵春梅', role: 'doctor', phone: '13800000002' },
                  { name: '村委值班室', role: 'duty', phone: '13800000003' },
                ],
              },
            ],
            devices,
          },
        ],
      },
    ],
  };
}
