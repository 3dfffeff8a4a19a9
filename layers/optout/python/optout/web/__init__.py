"""HTTP answers: requests read and pages, JSON and problems answered for the public routes
(`public`) and the organisers' (`admin`); the OpenAPI description of every route (`openapi`)."""
