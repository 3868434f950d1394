// Copy buttons of the developer console and the sign-in docs. Pages are served with a CSP that
// forbids inline scripts, so this lives here. Without JavaScript the buttons stay hidden and the
// text stays selectable.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) continue;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.value !== undefined ? target.value : target.textContent);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy it";
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}
