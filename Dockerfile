# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run in a small Debian image as a non-root user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY benches ./benches
# The tile matrix sets are compiled into the binary, and so is the sample data of `tuilerie demo`.
COPY config ./config
COPY fixtures ./fixtures
RUN cargo build --release --locked -p tuilerie \
 && strip target/release/tuilerie

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/tuilerie --shell /usr/sbin/nologin tuilerie \
 && mkdir -p /etc/tuilerie /var/lib/tuilerie \
 && chown tuilerie:tuilerie /var/lib/tuilerie
COPY --from=build /src/target/release/tuilerie /usr/local/bin/tuilerie
COPY config/tuilerie.toml /etc/tuilerie/tuilerie.toml
COPY config/tilematrixsets /etc/tuilerie/tilematrixsets
# The shipped file listens on loopback and keeps data in ./data: the environment points both
# at the container's interface and volume (a mounted config file may set them too, but the
# environment wins over the file).
ENV TUILERIE_LISTEN=0.0.0.0:8080 \
    TUILERIE_DATA_DIR=/var/lib/tuilerie \
    TUILERIE_LOG_FORMAT=json
USER tuilerie
WORKDIR /var/lib/tuilerie
VOLUME ["/var/lib/tuilerie"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s CMD ["tuilerie", "health", "--timeout", "3"]
ENTRYPOINT ["tuilerie"]
CMD ["serve", "--config", "/etc/tuilerie/tuilerie.toml"]
