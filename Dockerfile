# node:24-slim runs the .ts sources; their type-stripped JavaScript is cached at build time (src/typescript-cache.js).
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
# Debian's Chromium for the browser fetch rung (FETCH_STRATEGIES) and report PDFs; playwright-core drives it,
# never downloads one. DejaVu covers Cyrillic.
RUN apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-liberation \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY src ./src
COPY worker ./worker
COPY migrations ./migrations
RUN node src/typescript-cache.js
USER node
EXPOSE 3000
# Probes /readyz (database reachable); the worker service overrides this with a process check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# V8 flags as in the npm scripts (README "Development"); NODE_OPTIONS does not take --heap-growing-percent.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "--import", "./src/typescript-cache.js", "src/server.ts", "--api-only"]
