window.MathJax={tex:{inlineMath:[['$','$'],['\\(','\\)']],processEscapes:true},loader:{load:['ui/safe']}};
