"""HTTP answers: requests read and pages and JSON answered for the public routes (`public`) and
the organisers' (`admin`); every refusal, a domain error made an answer, in one place
(`problems`); the OpenAPI description of every route (`openapi`)."""
