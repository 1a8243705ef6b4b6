# Kanjia, one process: embedded MQTT gateway, server, SQLite under /data.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY protocol/package.json protocol/
COPY detection/package.json detection/
COPY alerts/package.json alerts/
COPY gateway/package.json gateway/
COPY firmware-sim/package.json firmware-sim/
COPY eval/package.json eval/
COPY server/package.json server/
COPY dashboard/package.json dashboard/
COPY tests/package.json tests/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production KANJIA_DATA_DIR=/data KANJIA_HTTP_HOST=0.0.0.0 KANJIA_MQTT_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app /app
VOLUME /data
EXPOSE 8080 1883 8883
USER node
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "require(process.env.KANJIA_TLS_CERT?'https':'http').get({host:'127.0.0.1',port:8080,path:'/api/health',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
CMD ["node", "bin/kanjia.js", "start"]
