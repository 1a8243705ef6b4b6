import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';

/** Where `npm run dev` forwards the API and the live feed: the server's default port. */
const SERVER_URL = 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [vue()],
  // The server serves dist/ at `/` and the API at the same origin.
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Duty-room PCs are old (Windows 7 tops out at Chrome 109; 360/QQ browsers ship
    // older Chromium cores), so the bundle must not assume a current browser.
    target: ['chrome87', 'edge88', 'firefox78', 'safari14'],
    // Two pages: the duty desk, and the helper's answer page that the server serves at /a/<code>.
    rollupOptions: { input: { main: fileURLToPath(new URL('index.html', import.meta.url)), answer: fileURLToPath(new URL('answer.html', import.meta.url)), visit: fileURLToPath(new URL('visit.html', import.meta.url)) } },
  },
  server: {
    proxy: {
      '/api': { target: SERVER_URL, changeOrigin: false },
      '/socket.io': { target: SERVER_URL, ws: true },
    },
  },
});
