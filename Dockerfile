# The production image: the server alone, no load generator. `classmate-server` serves; the
# `classmate` CLI beside it, built without `bench`, seeds, inspects locks and creates admins.
#   docker build -t classmate .
#   docker run classmate                                    # serve (CLASSMATE_* configure it)
#   docker run classmate classmate seed --courses 5000 ...  # the operator's tools
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p classmate-server --bin classmate-server \
 && cargo build --release -p classmate --no-default-features --bin classmate

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/classmate classmate
COPY --from=build /src/target/release/classmate-server /usr/local/bin/classmate-server
COPY --from=build /src/target/release/classmate /usr/local/bin/classmate
USER classmate
WORKDIR /var/lib/classmate
EXPOSE 8080
CMD ["classmate-server"]
