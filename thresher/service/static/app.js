// The web app (replaced by the full app).
document.getElementById("main").textContent = "thresher";
