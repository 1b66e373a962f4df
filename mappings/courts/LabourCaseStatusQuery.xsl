<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical LabourCaseStatusQuery → the labour court's lc:GetCaseStatus.
  The court's case numbers read "LC/yyyy/n"; anything else is refused by the
  court's contract before the court is called (the asker gets a Fault saying so).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:lc="urn:om:mjla:labourcourt:2022"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>

  <xsl:template match="/rabt:LabourCaseStatusQuery">
    <lc:GetCaseStatus>
      <lc:CaseNo><xsl:value-of select="normalize-space(rabt:CaseNumber)"/></lc:CaseNo>
    </lc:GetCaseStatus>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical LabourCaseStatusQuery, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
