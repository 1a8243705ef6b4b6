/**
 * The Leaflet map of the village: one pin per household, coloured and marked
 * by its state, clustered when zoomed out (a cluster holding an alarm is an
 * alarm), over tiles, an uploaded village plan, or a plain background that
 * requests nothing (the village office without internet).
 *
 * Live updates are applied in the next animation frame, all at once, by
 * changing the pin element in place: replacing 5,000 markers' icons or
 * re-rendering through Vue would not keep up with a village's changes.
 */
import gcoord from 'gcoord';
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster';
import 'leaflet.markercluster/dist/MarkerCluster.css';
import type { HouseholdState, MapConfigResponse, MapHousehold } from '@kanjia/protocol';
import { STATE_GLYPH } from './households';

export interface VillageMapOptions {
  config: MapConfigResponse;
  /** A pin was clicked (or Enter pressed on it). */
  onOpen(household: MapHousehold): void;
  /** The pin's tooltip, in the current language. */
  describe(household: MapHousehold): string;
  /** The cluster's title, in the current language. */
  describeCluster(count: number, alarms: number): string;
  /** Record event-to-paint latencies (bench:dashboard). */
  measure?: boolean;
}

/** One event's way to the screen, for bench:dashboard. */
export interface PaintSample {
  ms: number;
  /** The pin was on screen (not inside a cluster or out of view). */
  visible: boolean;
}

interface Entry {
  household: MapHousehold;
  marker: L.Marker;
}

/** At this zoom (a few streets across) every house is its own pin. */
const UNCLUSTER_ZOOM = 17;
/**
 * A village of up to this many households is shown pin by pin at the zoom that
 * fits it (clusters only when the officer zooms out): a small village must be
 * understood at a glance, not by opening circles.
 */
const SMALL_VILLAGE = 150;
const NO_TILES_MAX_ZOOM = 19;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pinIcon(h: MapHousehold): L.DivIcon {
  return L.divIcon({
    className: 'map-pin',
    html: `<span class="pin pin--${h.state}" data-testid="map-pin" data-household="${escapeHtml(h.id)}" data-state="${h.state}"><b>${STATE_GLYPH[h.state]}</b></span>`,
    iconSize: [30, 30],
    iconAnchor: [15, 15],
    tooltipAnchor: [16, 0],
  });
}

/** Where pins overlap, the one that needs someone lies on top: alarm, then an unanswered reminder, then a device problem. */
function zIndexOf(state: HouseholdState): number {
  return state === 'alarm' ? 3000 : state === 'reminder' ? 2000 : state === 'device' ? 1000 : 0;
}

export class VillageMap {
  private readonly map: L.Map;
  private cluster: L.MarkerClusterGroup;
  private readonly entries = new Map<string, Entry>();
  private readonly stateOf = new WeakMap<L.Marker, HouseholdState>();
  private readonly pending = new Map<string, { household: MapHousehold; receivedAt: number }>();
  private frame = 0;
  private readonly gcj02: boolean;
  /** Filled when `measure` is on. */
  readonly samples: PaintSample[] = [];

  constructor(
    element: HTMLElement,
    private readonly options: VillageMapOptions,
  ) {
    const { tiles, plans } = options.config;
    this.gcj02 = tiles.kind === 'tiles' && tiles.crs === 'gcj02';
    const maxZoom = tiles.kind === 'tiles' ? Math.max(...tiles.layers.map((l) => l.maxZoom)) : NO_TILES_MAX_ZOOM;
    this.map = L.map(element, { maxZoom, zoomControl: true, attributionControl: tiles.kind === 'tiles', preferCanvas: false });
    element.classList.toggle('map--plain', tiles.kind === 'none' && plans.length === 0);
    if (tiles.kind === 'tiles') {
      for (const layer of tiles.layers) {
        L.tileLayer(layer.url, { subdomains: layer.subdomains.length > 0 ? layer.subdomains : 'abc', attribution: layer.attribution, maxZoom: layer.maxZoom }).addTo(this.map);
      }
    }
    for (const plan of plans) {
      const sw = this.latLng(plan.bounds.south, plan.bounds.west);
      const ne = this.latLng(plan.bounds.north, plan.bounds.east);
      L.imageOverlay(plan.url, L.latLngBounds(sw, ne), { className: 'map-plan', alt: '' }).addTo(this.map);
    }
    this.cluster = this.clusterGroup(UNCLUSTER_ZOOM).addTo(this.map);
  }

  /** The cluster group: every house its own pin from `unclusterZoom` in. */
  private clusterGroup(unclusterZoom: number): L.MarkerClusterGroup {
    return L.markerClusterGroup({
      maxClusterRadius: 44,
      disableClusteringAtZoom: unclusterZoom,
      showCoverageOnHover: false,
      chunkedLoading: true,
      animateAddingMarkers: false,
      iconCreateFunction: (c) => this.clusterIcon(c),
    });
  }

  /** Replaces every pin (the first load, and after a reconnection). */
  setHouseholds(households: readonly MapHousehold[]): void {
    const fresh = this.entries.size === 0;
    this.cluster.clearLayers();
    this.entries.clear();
    this.pending.clear();
    const markers: L.Marker[] = [];
    for (const h of households) {
      const marker = L.marker(this.latLng(h.lat, h.lng), { icon: pinIcon(h), keyboard: true, title: '', riseOnHover: true, zIndexOffset: zIndexOf(h.state) });
      const entry: Entry = { household: h, marker };
      marker.bindTooltip(() => this.options.describe(entry.household), { direction: 'right' });
      marker.on('click', () => this.options.onOpen(entry.household));
      this.stateOf.set(marker, h.state);
      this.entries.set(h.id, entry);
      markers.push(marker);
    }
    if (fresh) {
      this.fit();
      if (households.length <= SMALL_VILLAGE) this.unclusterFrom(Math.min(UNCLUSTER_ZOOM, Math.floor(this.map.getZoom())));
    }
    this.cluster.addLayers(markers);
  }

  /** Every house its own pin from `zoom` in: a new (empty) cluster group, since a group fixes its zoom levels when first added. */
  private unclusterFrom(zoom: number): void {
    if ((this.cluster.options as L.MarkerClusterGroupOptions).disableClusteringAtZoom === zoom) return;
    this.cluster.remove();
    this.cluster = this.clusterGroup(zoom).addTo(this.map);
  }

  /** A live change: applied with the others of this frame. */
  update(household: MapHousehold, receivedAt: number): void {
    this.pending.set(household.id, { household, receivedAt });
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Centres a household's pin at a zoom where every house is its own pin, and shows its tooltip. */
  focus(householdId: string): void {
    const entry = this.entries.get(householdId);
    if (!entry) return;
    let shown = false;
    const show = () => {
      if (shown) return;
      shown = true;
      entry.marker.openTooltip();
      const el = entry.marker.getElement()?.firstElementChild;
      el?.classList.add('pin--focus');
      setTimeout(() => el?.classList.remove('pin--focus'), 2_000);
    };
    // Not zoomToShowLayer: it may spiderfy the cluster, which folds up again at the next move.
    this.map.once('moveend', show);
    this.map.setView(entry.marker.getLatLng(), Math.max(this.map.getZoom(), UNCLUSTER_ZOOM));
    setTimeout(show, 800);
  }

  /** The map's size changed (a layout change): Leaflet must measure again. */
  resize(): void {
    this.map.invalidateSize();
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.map.remove();
  }

  private flush(): void {
    this.frame = 0;
    const applied: Array<{ receivedAt: number; visible: boolean }> = [];
    const refresh: L.Marker[] = [];
    for (const { household, receivedAt } of this.pending.values()) {
      const entry = this.entries.get(household.id);
      if (!entry) continue;
      const before = this.stateOf.get(entry.marker);
      entry.household = household;
      this.stateOf.set(entry.marker, household.state);
      // Kept for when the cluster puts the marker back on the map.
      entry.marker.options.icon = pinIcon(household);
      const pin = entry.marker.getElement()?.firstElementChild as HTMLElement | null | undefined;
      if (pin) {
        pin.className = `pin pin--${household.state}`;
        pin.dataset.state = household.state;
        pin.innerHTML = `<b>${STATE_GLYPH[household.state]}</b>`;
      }
      if (before !== household.state) entry.marker.setZIndexOffset(zIndexOf(household.state));
      if ((before === 'alarm') !== (household.state === 'alarm')) refresh.push(entry.marker);
      applied.push({ receivedAt, visible: pin !== null && pin !== undefined });
    }
    this.pending.clear();
    // Only a change into or out of alarm changes a cluster's look.
    if (refresh.length > 0) this.cluster.refreshClusters(refresh);
    if (this.options.measure && applied.length > 0) {
      // This frame's callbacks are done; the timeout runs after the frame is painted.
      setTimeout(() => {
        const now = performance.now();
        for (const a of applied) {
          performance.measure('household:paint', { start: a.receivedAt, end: now });
          this.samples.push({ ms: now - a.receivedAt, visible: a.visible });
        }
      }, 0);
    }
  }

  private clusterIcon(c: L.MarkerCluster): L.DivIcon {
    const children = c.getAllChildMarkers();
    let alarms = 0;
    for (const m of children) if (this.stateOf.get(m) === 'alarm') alarms += 1;
    const n = children.length;
    const title = escapeHtml(this.options.describeCluster(n, alarms));
    return L.divIcon({
      className: 'map-cluster-icon',
      html: `<span class="cluster${alarms > 0 ? ' cluster--alarm' : ''}" data-testid="map-cluster" data-alarms="${alarms}" title="${title}"><b>${n}</b>${alarms > 0 ? `<i>!${alarms}</i>` : ''}</span>`,
      iconSize: [48, 48],
      iconAnchor: [24, 24],
    });
  }

  private fit(): void {
    const points: L.LatLng[] = [...this.entries.values()].map((e) => e.marker.getLatLng());
    for (const p of this.options.config.plans) {
      points.push(this.latLng(p.bounds.south, p.bounds.west), this.latLng(p.bounds.north, p.bounds.east));
    }
    if (points.length === 0) points.push(...this.options.config.villages.map((v) => this.latLng(v.lat, v.lng)));
    if (points.length === 0) {
      this.map.setView([35, 105], 4);
      return;
    }
    if (points.length === 1) {
      this.map.setView(points[0] as L.LatLng, 17);
      return;
    }
    this.map.fitBounds(L.latLngBounds(points), { padding: [40, 40], maxZoom: 18 });
  }

  /** WGS-84 as stored → what the background uses (GCJ-02 for Gaode/Tencent-style tiles). */
  private latLng(lat: number, lng: number): L.LatLng {
    if (!this.gcj02) return L.latLng(lat, lng);
    const [gLng, gLat] = gcoord.transform([lng, lat], gcoord.WGS84, gcoord.GCJ02) as [number, number];
    return L.latLng(gLat, gLng);
  }
}
