# The route53-registrator image: one static binary and Mozilla's CA roots, nothing else (no shell, no libc).
#
#   docker build -t route53-registrator .                  compile in the builder stage (pulls rust:1-bookworm)
#   docker build --target prebuilt -t route53-registrator .
#                                                          package prebuilt/route53-registrator, a static musl
#                                                          binary built outside Docker (what scripts/test.sh does)
#
# Both images are the `runtime` stage plus the binary: the bundle, the environment, the entrypoint and the
# health check are written once, below, and only where the binary comes from differs.
#
# The stages are in this order for Docker's classic builder (Docker before 23, or DOCKER_BUILDKIT=0), which
# builds every stage up to the target in file order, used or not, and none after it: `--target prebuilt`
# stops before the builder stage (nothing to pull), and a plain `docker build .` also builds `prebuilt`,
# which then copies an empty folder (the repository's prebuilt/ holds only a README, left out by
# .dockerignore). BuildKit builds only the stages the target needs.

# ---- runtime: everything the image is but the binary -------------------------------------------------------
FROM scratch AS runtime
# Mozilla's roots in PEM (ca-bundle.crt, from Debian's ca-certificates: scripts/ca-bundle.sh), where the AWS
# SDK's TLS stack (rustls, roots found by rustls-native-certs) looks for them, and named explicitly too.
COPY ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Configuration: R53R_<SECTION>__<KEY> variables (R53R_ROUTE53__ZONE_ID, ...), or a TOML file mounted
# read-only and named by ROUTE53_REGISTRATOR_CONFIG. The container writes nothing: it runs with a read-only
# root file system and every capability dropped. It runs as root unless told otherwise; to run it as another
# user, give that user the Docker socket's group (`docker run --user 65534:<gid of the socket>`, or the task
# definition's `user`).
# checkov:skip=CKV_DOCKER_3: no USER here on purpose: the non-root user must be in the Docker socket's group,
# whose id differs between AMIs, so it is set where it is known (the task definition's user, the template's
# SocketGroupId); as root the daemon opens the socket as its owner, with every capability dropped.
ENTRYPOINT ["/route53-registrator"]
# Exec form: the image has no shell. `healthcheck` asks /healthz on http.listen and exits 0 on a 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/route53-registrator", "healthcheck"]

# ---- prebuilt: the runtime plus a binary from the build context ---------------------------------------------
FROM runtime AS prebuilt
COPY prebuilt/ /

# ---- builder: a fully static binary (x86_64-unknown-linux-musl) ---------------------------------------------
FROM rust:1-bookworm AS builder
# musl-gcc for the C in aws-lc-sys (which then needs no cmake). Not pinned (hadolint DL3008): the base image
# already moves with rust:1-bookworm, and a pinned version leaves Debian's mirror at its next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin route53-registrator \
    && cp target/x86_64-unknown-linux-musl/release/route53-registrator /route53-registrator

# ---- the image (the default target): the runtime plus the binary built above -------------------------------
FROM runtime AS image
COPY --from=builder /route53-registrator /route53-registrator
