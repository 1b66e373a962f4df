<?xml version="1.0" encoding="UTF-8"?>
<!--
  Courts: one case update (a one-case lcb:CaseUpdateBatch, as
  adapters/courts/files.py yields it) to one canonical LabourCaseUpdate.

  Codes (schemas/agencies/courts/labour-case-batch.xsd):
    StatusCode   OPN opened, HRG hearing, JDG / CLS judgment (CLS: final)
    OutcomeCode  W for-worker, E for-employer, P partly-for-worker, S settled, X dismissed
  A hearing's SessionDate + SessionTime are court local time, UTC+04:00.
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:lcb="urn:om:mjla:labourcourt:batch:2022"
                xmlns:rabt="urn:rabt:canonical:v1"
                exclude-result-prefixes="lcb">

  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:include href="_courts.xsl"/>

  <xsl:template match="/lcb:CaseUpdateBatch">
    <xsl:if test="count(lcb:CaseUpdate) != 1">
      <xsl:message terminate="yes">expected exactly one CaseUpdate, found <xsl:value-of select="count(lcb:CaseUpdate)"/></xsl:message>
    </xsl:if>
    <xsl:apply-templates select="lcb:CaseUpdate"/>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">not a labour-case batch: <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>

  <xsl:template match="lcb:CaseUpdate">
    <xsl:variable name="batch" select=".."/>
    <rabt:LabourCaseUpdate>
      <rabt:CaseNumber><xsl:value-of select="lcb:CaseNo"/></rabt:CaseNumber>
      <xsl:if test="lcb:ComplaintNo">
        <rabt:ComplaintId><xsl:value-of select="lcb:ComplaintNo"/></rabt:ComplaintId>
      </xsl:if>
      <rabt:Court>
        <rabt:Code><xsl:value-of select="$batch/@CourtCode"/></rabt:Code>
        <xsl:call-template name="names">
          <xsl:with-param name="ar" select="$batch/lcb:CourtNameAr"/>
          <xsl:with-param name="en" select="$batch/lcb:CourtNameEn"/>
        </xsl:call-template>
      </rabt:Court>
      <rabt:Event>
        <xsl:call-template name="case-event"><xsl:with-param name="code" select="lcb:StatusCode"/></xsl:call-template>
      </rabt:Event>
      <rabt:EventDate><xsl:value-of select="lcb:StatusDate"/></rabt:EventDate>
      <rabt:Parties>
        <rabt:Employer>
          <rabt:CRNumber><xsl:value-of select="lcb:Defendant/lcb:CRNo"/></rabt:CRNumber>
          <xsl:call-template name="names">
            <xsl:with-param name="ar" select="lcb:Defendant/lcb:NameAr"/>
            <xsl:with-param name="en" select="lcb:Defendant/lcb:NameEn"/>
          </xsl:call-template>
        </rabt:Employer>
        <rabt:Worker>
          <rabt:CivilNumber><xsl:value-of select="lcb:Plaintiff/lcb:CivilNo"/></rabt:CivilNumber>
          <xsl:if test="normalize-space(lcb:Plaintiff/lcb:PassportNo)">
            <rabt:PassportNumber><xsl:value-of select="normalize-space(lcb:Plaintiff/lcb:PassportNo)"/></rabt:PassportNumber>
          </xsl:if>
          <xsl:call-template name="names">
            <xsl:with-param name="ar" select="lcb:Plaintiff/lcb:NameAr"/>
            <xsl:with-param name="en" select="lcb:Plaintiff/lcb:NameEn"/>
          </xsl:call-template>
          <rabt:Nationality><xsl:value-of select="normalize-space(lcb:Plaintiff/lcb:Nationality)"/></rabt:Nationality>
        </rabt:Worker>
      </rabt:Parties>
      <xsl:apply-templates select="lcb:Hearing[../lcb:StatusCode = 'HRG']"/>
      <xsl:apply-templates select="lcb:Judgment[../lcb:StatusCode = 'JDG' or ../lcb:StatusCode = 'CLS']"/>
    </rabt:LabourCaseUpdate>
  </xsl:template>

  <xsl:template match="lcb:Hearing">
    <rabt:HearingDate>
      <xsl:value-of select="concat(lcb:SessionDate, 'T', lcb:SessionTime, ':00+04:00')"/>
    </rabt:HearingDate>
  </xsl:template>

  <xsl:template match="lcb:Judgment">
    <rabt:Judgment>
      <rabt:Outcome>
        <xsl:call-template name="judgment-outcome"><xsl:with-param name="code" select="lcb:OutcomeCode"/></xsl:call-template>
      </rabt:Outcome>
      <rabt:Text xml:lang="ar"><xsl:value-of select="lcb:TextAr"/></rabt:Text>
      <xsl:if test="normalize-space(lcb:TextEn)">
        <rabt:Text xml:lang="en"><xsl:value-of select="lcb:TextEn"/></rabt:Text>
      </xsl:if>
      <xsl:if test="lcb:AwardAmount">
        <rabt:AmountAwarded currency="OMR"><xsl:value-of select="lcb:AwardAmount"/></rabt:AmountAwarded>
      </xsl:if>
      <rabt:Final><xsl:value-of select="lcb:IsFinal = 'true' or lcb:IsFinal = '1' or ../lcb:StatusCode = 'CLS'"/></rabt:Final>
    </rabt:Judgment>
  </xsl:template>

  <xsl:template name="names">
    <xsl:param name="ar"/>
    <xsl:param name="en"/>
    <xsl:if test="normalize-space($ar)">
      <rabt:Name xml:lang="ar"><xsl:value-of select="normalize-space($ar)"/></rabt:Name>
    </xsl:if>
    <xsl:if test="normalize-space($en)">
      <rabt:Name xml:lang="en"><xsl:value-of select="normalize-space($en)"/></rabt:Name>
    </xsl:if>
  </xsl:template>

</xsl:stylesheet>
