# The classmate binary in a slim image. Build: docker build -t classmate .
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p classmate

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/classmate classmate
COPY --from=build /src/target/release/classmate /usr/local/bin/classmate
USER classmate
WORKDIR /var/lib/classmate
EXPOSE 8080
ENTRYPOINT ["classmate"]
CMD ["serve"]
