// The API page: Swagger UI from the package (no CDN), started from a file because the
// Content-Security-Policy allows no inline script.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  requestInterceptor: (request) => {
    // State-changing calls need the CSRF header (service/security.py); "Try it out" sends it.
    request.headers["X-Thresher-Request"] = "1";
    return request;
  },
});
