# One image for every dmlnet service (chain, deployer, store, miners, verifiers, explorer); docker-compose.yml picks the
# command. The toolchain stage installs the npm packages pinned in package-lock.json (Anvil ships its binary).
FROM node:20-bookworm-slim AS toolchain
WORKDIR /opt/dmlnet
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /opt/dmlnet
# The CPU build of torch, pinned like the Makefile does.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY pyproject.toml README.md ./
COPY node ./node
COPY client ./client
COPY explorer ./explorer
COPY contracts ./contracts
COPY tools ./tools
RUN pip install .
COPY --from=toolchain /opt/dmlnet/node_modules ./node_modules
RUN useradd --create-home --uid 1000 dml && mkdir -p /data /shared && chown dml /data /shared
USER dml
ENTRYPOINT ["dml"]
