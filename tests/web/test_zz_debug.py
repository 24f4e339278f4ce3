from tests.web.test_every_page import seed_a_working_pipeline, build_this_week, log_in  # noqa
from tests.web import browser as b

def test_debug(tab_for, server):
    seeded = seed_a_working_pipeline(server)
    build_this_week(server, tab_for)
    ids = {"company": seeded["company"]["id"], "need": seeded["need"]["id"]}
    tab = tab_for(b.PHONE)
    log_in(tab, "anne")
    for name, path in [("front", "/"), ("company", "/ui/bedrijf/{company}"), ("match", "/ui/koppeling/{company}/{need}"), ("dashboard", "/ui/dashboard"), ("board", "/ui/pipeline"), ("weekly", "/ui/weeklijst?passend=alle"), ("inbox", "/ui/inbox")]:
        tab.goto(path.format(**ids))
        print("DBG", path, b.horizontal_overflow(tab), tab.url)
        tab.screenshot(path=f"/tmp/phone-{name}.png", full_page=True)
    wide = tab_for(b.DESKTOP)
    log_in(wide, "anne")
    for name, path in [("dashboard", "/ui/dashboard"), ("board", "/ui/pipeline"), ("match", "/ui/koppeling/{company}/{need}"), ("front", "/")]:
        wide.goto(path.format(**ids))
        wide.screenshot(path=f"/tmp/desk-{name}.png", full_page=True)
