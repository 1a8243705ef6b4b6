/**
 * Village plan images: the map of a village office without internet. The
 * admin uploads a png or jpeg (size-limited, checked to be the image it says
 * it is) with its south-west and north-east corners; the file goes to the
 * data directory's map-plans/, its placement to SQLite.
 */
import { KanjiaError, type CatalogCodes, type MapPlan, type MapPlanBounds } from '@kanjia/protocol';
import { imageSize } from 'image-size';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/database.js';

/** A scanned A3 plan at 200 dpi as a jpeg is 2–5 MB; 10 MiB leaves room without filling the disk. */
export const MAX_PLAN_BYTES = 10 * 1024 * 1024;
/** Browsers on old duty-room PCs fail to decode huge images; 8192 px a side is plenty for a village. */
export const MAX_PLAN_SIDE_PX = 8192;

export type MapPlanErrorCode = CatalogCodes<'PLAN_NOT_AN_IMAGE' | 'PLAN_TYPE_MISMATCH' | 'PLAN_TOO_LARGE' | 'PLAN_TOO_MANY_PIXELS' | 'PLAN_NOT_FOUND' | 'VILLAGE_NOT_FOUND'>;

export class MapPlanError extends KanjiaError<MapPlanErrorCode> {
  override readonly name = 'MapPlanError';
}

type PlanType = 'image/png' | 'image/jpeg';
const EXTENSION: Record<PlanType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg' };
/** image-size's names of the two formats we take. */
const DETECTED: Record<string, PlanType> = { png: 'image/png', jpg: 'image/jpeg' };

interface PlanRow {
  village_id: string;
  file: string;
  content_type: PlanType;
  width: number;
  height: number;
  south: number;
  west: number;
  north: number;
  east: number;
  uploaded_at: number;
}

export class MapPlanStore {
  private readonly dir: string;

  constructor(
    private readonly db: Db,
    dataDir: string,
  ) {
    this.dir = join(dataDir, 'map-plans');
  }

  /** Checks and stores a village's plan (replacing any previous one); throws MapPlanError. */
  save(villageId: string, contentType: string, bytes: Buffer, bounds: MapPlanBounds, by: string | null, nowMs: number): MapPlan {
    if (!this.db.prepare('SELECT 1 FROM villages WHERE id = ?').get(villageId)) throw new MapPlanError('VILLAGE_NOT_FOUND', `no village with id ${villageId}`);
    if (bytes.length > MAX_PLAN_BYTES) throw new MapPlanError('PLAN_TOO_LARGE', `the plan is ${bytes.length} bytes; at most ${MAX_PLAN_BYTES} (10 MiB)`);
    let size: { width?: number; height?: number; type?: string };
    try {
      size = imageSize(bytes);
    } catch {
      throw new MapPlanError('PLAN_NOT_AN_IMAGE', 'the file is not a png or jpeg image');
    }
    const detected = size.type ? DETECTED[size.type] : undefined;
    if (!detected || !size.width || !size.height) throw new MapPlanError('PLAN_NOT_AN_IMAGE', `the file is not a png or jpeg image${size.type ? ` (it is ${size.type})` : ''}`);
    if (detected !== contentType) throw new MapPlanError('PLAN_TYPE_MISMATCH', `sent as ${contentType} but the file is ${detected}`);
    if (size.width > MAX_PLAN_SIDE_PX || size.height > MAX_PLAN_SIDE_PX) {
      throw new MapPlanError('PLAN_TOO_MANY_PIXELS', `the plan is ${size.width}×${size.height} px; at most ${MAX_PLAN_SIDE_PX} px a side`);
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = `${villageId}.${EXTENSION[detected]}`;
    // Write then rename: a crash leaves the old plan or the new one, never half an image.
    const tmp = join(this.dir, `.${file}.${process.pid}.tmp`);
    // A plan shows where every watched person lives: private like the database.
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, join(this.dir, file));
    const previous = this.row(villageId);
    this.db
      .prepare(
        `INSERT INTO map_plans (village_id, file, content_type, width, height, south, west, north, east, uploaded_at, uploaded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (village_id) DO UPDATE SET file = excluded.file, content_type = excluded.content_type, width = excluded.width, height = excluded.height,
           south = excluded.south, west = excluded.west, north = excluded.north, east = excluded.east, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by`,
      )
      .run(villageId, file, detected, size.width, size.height, bounds.south, bounds.west, bounds.north, bounds.east, nowMs, by);
    if (previous && previous.file !== file) rmSync(join(this.dir, previous.file), { force: true });
    return toPlan(this.row(villageId) as PlanRow);
  }

  /** Every stored plan. */
  list(): MapPlan[] {
    return (this.db.prepare('SELECT * FROM map_plans ORDER BY village_id').all() as PlanRow[]).map(toPlan);
  }

  /** The image of a village's plan; throws PLAN_NOT_FOUND. */
  image(villageId: string): { contentType: PlanType; bytes: Buffer } {
    const row = this.row(villageId);
    if (!row) throw new MapPlanError('PLAN_NOT_FOUND', `village ${villageId} has no plan`);
    return { contentType: row.content_type, bytes: readFileSync(join(this.dir, row.file)) };
  }

  /** Removes a village's plan; throws PLAN_NOT_FOUND. */
  remove(villageId: string): void {
    const row = this.row(villageId);
    if (!row) throw new MapPlanError('PLAN_NOT_FOUND', `village ${villageId} has no plan`);
    this.db.prepare('DELETE FROM map_plans WHERE village_id = ?').run(villageId);
    rmSync(join(this.dir, row.file), { force: true });
  }

  private row(villageId: string): PlanRow | undefined {
    return this.db.prepare('SELECT * FROM map_plans WHERE village_id = ?').get(villageId) as PlanRow | undefined;
  }
}

function toPlan(r: PlanRow): MapPlan {
  return {
    villageId: r.village_id,
    // The upload time in the URL: a new plan is not hidden by the browser's cache of the old one.
    url: `/api/map/plans/${encodeURIComponent(r.village_id)}?v=${r.uploaded_at}`,
    contentType: r.content_type,
    width: r.width,
    height: r.height,
    bounds: { south: r.south, west: r.west, north: r.north, east: r.east },
    uploadedAt: r.uploaded_at,
  };
}
