"""The gRPC API (service/proto/watchlist/alerts/v1/alerts.proto), served by each replica
beside the REST API on its own port, on the same event loop, database pool, tokens, rate
limiter and metrics (app.state), through the same validation and storage code."""
