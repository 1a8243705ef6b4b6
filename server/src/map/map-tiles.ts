/** The map background the settings ask for, as the page's Leaflet layers. */
import type { MapTiles } from '@kanjia/protocol';
import type { Settings } from '../config.js';

/**
 * 天地图's Web-Mercator ("_w") WMTS layers: vec (roads, buildings) under cva
 * (Chinese labels). CGCS2000 coincides with WGS-84 at map scale, so no shift.
 */
function tiandituLayer(layer: 'vec' | 'cva', key: string) {
  return {
    url: `https://t{s}.tianditu.gov.cn/${layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=${layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=${encodeURIComponent(key)}`,
    subdomains: ['0', '1', '2', '3', '4', '5', '6', '7'],
    attribution: layer === 'vec' ? '天地图' : '',
    maxZoom: 18,
  };
}

/** none → no tile at all; tianditu → vector + labels; otherwise the URL template with the configured datum. */
export function mapTiles(settings: Pick<Settings, 'mapTiles' | 'mapTiandituKey' | 'mapTileCrs'>): MapTiles {
  if (settings.mapTiles === 'none') return { kind: 'none' };
  if (settings.mapTiles === 'tianditu') {
    const key = settings.mapTiandituKey ?? '';
    return { kind: 'tiles', layers: [tiandituLayer('vec', key), tiandituLayer('cva', key)], crs: 'wgs84' };
  }
  return {
    kind: 'tiles',
    layers: [{ url: settings.mapTiles, subdomains: settings.mapTiles.includes('{s}') ? ['a', 'b', 'c'] : [], attribution: '', maxZoom: 19 }],
    crs: settings.mapTileCrs,
  };
}
