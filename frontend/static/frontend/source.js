// The source viewer opens scrolled to the cited passage (a file, not inline: the CSP
// allows no inline script).
document.getElementById("cited")?.scrollIntoView({block: "center"});
