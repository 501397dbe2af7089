# syntax=docker/dockerfile:1
# dentally-etl in a container: a build stage, then a slim runtime with CA certificates, a non-root
# user and the binary as entrypoint.
#
#   docker build -t dentally-etl .                      # with SQL models (polars): a long build
#   docker build --build-arg MODELS=false -t dentally-etl .   # without SQL models: much faster
#   docker run --rm -e DENTALLY_API_TOKEN dentally-etl check /etc/dentally/pipeline.toml
#
# Untested on the machine it was written on (no Docker there); tests/it/ops.rs checks that its
# commands agree with the crate (binary name, features, Rust version).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# MODELS=true builds the `models` feature (SQL models, polars); MODELS=false builds with
# --no-default-features, where a pipeline with [[models]] fails those models with a message.
ARG MODELS=true
# C compilers and cmake for the -sys crates (zstd, aws-lc for TLS).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY pipelines ./pipelines
# Cargo.toml names these targets; cargo reads them even when it builds only the binary.
COPY benches ./benches
COPY tests ./tests
RUN if [ "$MODELS" = "true" ]; then FEATURES="--features models"; else FEATURES=""; fi \
 && cargo build --release --locked --no-default-features $FEATURES --bin dentally-etl \
 && mkdir -p /out/completions \
 && cp target/release/dentally-etl /out/dentally-etl \
 && /out/dentally-etl man > /out/dentally-etl.1 \
 && /out/dentally-etl completions bash > /out/completions/dentally-etl.bash \
 && /out/dentally-etl completions zsh > /out/completions/_dentally-etl \
 && /out/dentally-etl completions fish > /out/completions/dentally-etl.fish

FROM debian:bookworm-slim AS runtime
# CA certificates: the API and object stores are reached over TLS with the system's roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin dentally \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /out/dentally-etl /usr/local/bin/dentally-etl
COPY --from=build /out/dentally-etl.1 /usr/local/share/man/man1/dentally-etl.1
COPY --from=build /out/completions/dentally-etl.bash /usr/share/bash-completion/completions/dentally-etl
COPY LICENSE /usr/share/doc/dentally-etl/LICENSE
USER 10001:10001
# A writable working folder for local outputs (`url = "./out"`); mount a volume there.
WORKDIR /data
ENTRYPOINT ["dentally-etl"]
CMD ["--help"]
