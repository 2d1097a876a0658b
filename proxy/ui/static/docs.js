// Swagger UI over this server's own OpenAPI document, with every asset served locally.
// "Authorize" takes an API key (the bearer scheme); it is kept only in this tab's memory.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  validatorUrl: "none",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
