/** A local map tile server for the browser tests: every /tiles/{z}/{x}/{y}.png is a light-blue square. */
import { createServer } from 'node:http';
import { freePort } from './harness.js';
import { solidPng } from './png.js';

export interface TileServer {
  /** The KANJIA_MAP_TILES template that points at it. */
  template: string;
  /** Every path requested, in order. */
  requests: string[];
  /** Closes it and the connections a browser keeps alive (close() alone would wait for them). */
  close(): Promise<void>;
}

export async function startTileServer(): Promise<TileServer> {
  const port = await freePort();
  const requests: string[] = [];
  const tile = solidPng(256, 256, [200, 220, 240], true);
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!/^\/tiles\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(tile);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    template: `http://127.0.0.1:${port}/tiles/{z}/{x}/{y}.png`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
